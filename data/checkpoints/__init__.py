"""Shipped checkpoints, installed as the package ``mrs.pretrained`` (see mrs.train.load_pretrained)."""
