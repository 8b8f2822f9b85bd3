"""The label channel: classifiers, taggers and CLIP towers that decide what an image is
captioned or tagged as, the loss that makes them see something else, and the measure of
what they see before and after (``registry``, ``objective``, ``measure``)."""
