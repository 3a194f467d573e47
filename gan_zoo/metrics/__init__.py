"""FID, IS and KID through torchmetrics, on features from a pluggable extractor; real features cached."""
