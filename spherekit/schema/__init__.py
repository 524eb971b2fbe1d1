"""The vim25 model: the data file, the generated classes and the registry the codec uses."""
