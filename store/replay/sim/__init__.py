"""The scenario generator's parts: the store's layout (store.py), how shoppers and strangers
move through it (people.py) and what its cameras and sensors report (sensors.py)."""
