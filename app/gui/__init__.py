"""PySide6 desktop app over app.core. Widgets lay out and paint; core does the maths."""
