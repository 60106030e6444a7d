"""Multi-SC (Huang & Li): main object, split into parts, one caption stream per part."""
