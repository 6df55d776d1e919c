"""The supervisors' dashboard (bot/dashboard/): figures, stored daily figures, console pages and exports,
scale data.
"""
