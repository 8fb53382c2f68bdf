"""The digit reader: a CNN trained on MNIST that reads handwritten digits from photos."""

SERVICE = "digits"

# How much of a training run each stage takes, so progress and ETA cover the whole run.
PROGRESS_WEIGHTS = {"loading MNIST": 0.02, "training": 0.93, "calibrating": 0.02, "testing": 0.03}

# Part of every cache key next to the model version: raise it whenever preprocessing or the
# answer's format changes, so results computed the old way are not served again.
PIPELINE_VERSION = 3  # 2: blank pages answer "no digits"; touching digits are split; 3: narrower marks
                      # are tried cut too, and a model may have the "not one digit" class
