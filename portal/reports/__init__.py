"""Reports that read across apps (uptake, overview). Only this package may import domain apps
from portal."""
