"""The columns a window frame holds besides the model's inputs, named so no input column can clash."""

PREDICTION = "__prediction"
CONFIDENCE = "__confidence"  # probability of the predicted class, where it is known
LABEL = "__label"
SOURCE = "__source"  # the batch folder or request log a row came from
HAS_INPUTS = "__has_inputs"  # whether the row's model inputs are known
ID = "__id"
RESERVED = (PREDICTION, CONFIDENCE, LABEL, SOURCE, HAS_INPUTS, ID)
