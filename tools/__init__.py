"""Generators and checks used only in development, never imported by pipeline/."""
