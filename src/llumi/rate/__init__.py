"""Human rating studies: the statistics of a study's ratings and the DPO2 pairs made from them."""
