"""The app page's settings: what an admin changes, across the domains it touches."""
