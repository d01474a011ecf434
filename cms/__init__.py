"""Headless media CMS."""
