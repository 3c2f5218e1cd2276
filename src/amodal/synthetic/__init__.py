"""The synthetic-occlusion benchmark generator: cutouts pasted over photos with exact amodal ground
truth. Imports `imaging` only.
"""
