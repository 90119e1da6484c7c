"""Camera side of reading codes: frame sources, decoders, the decode worker, synthetic images."""
