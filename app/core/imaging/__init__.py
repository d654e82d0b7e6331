"""Pixel maths on frames and mattes: compositing over backgrounds, alpha refinement
and upsampling, matte options."""
