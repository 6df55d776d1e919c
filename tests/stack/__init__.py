"""The processes together: supervisor, run scripts, test servers, start-up secrets, and tests against the
whole running stack (e2e stories, flood, load, internal endpoints, action server down, scale-out), the
bench's figures.
"""
