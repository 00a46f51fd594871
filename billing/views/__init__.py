"""Billing pages: `rates` (the admin's fee and share settings) and `reports` (earnings,
revenue, voiding)."""
