"""Pure functions that build Dash component trees. No database access here."""
