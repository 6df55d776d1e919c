"""Every test that drives headless Chromium (the widget, the console, the dashboard, the notices page),
named by the concern it shows.
"""
