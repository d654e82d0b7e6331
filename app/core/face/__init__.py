"""Face parsing: region labels and palette, the face parser and its image-driven
refinement, face tracking over video, part boxes and cut-outs, and the parse batch."""
