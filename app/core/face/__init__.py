"""Face parsing: detection, mesh, rasterised classes and their image-driven refinement."""
