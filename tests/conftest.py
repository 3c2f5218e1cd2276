import os

# No test may reach a model hub: weights are never downloaded here or in CI.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
