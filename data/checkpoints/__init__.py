"""Shipped checkpoints, installed as the package ``mrs.pretrained`` (see ``mrs.load_pretrained``)."""
