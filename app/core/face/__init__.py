"""Face parsing: region labels and palette, the face parser, face tracking over video,
part boxes and cut-outs, and the parse batch."""
