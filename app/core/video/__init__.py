"""Clip export (video file in, matted video or PNG sequence out) and the live recorder."""
