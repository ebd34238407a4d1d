"""The model: genre taxonomy, features, training and k choice, bundles, serving, evaluation."""
