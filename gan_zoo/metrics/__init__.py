"""Every "distance between two sets of images": feature extractors (InceptionV3, the shipped Fashion-MNIST CNN,
pixels), features of images and set distances (`features`), FID/KID/IS and the protocol they are computed with
(`evaluator`), precision/recall/density/coverage, the copying check, a collection's near-duplicates and outliers (`collection`),
the training callback, and the table of
metric names (`registry`) that plots and compare read. Imports only the core (never networks, runs, api)."""
