"""``livematte serve``: the still pipeline behind HTTP, answering cloud portrait APIs' requests.

A front end like ``app.cli`` (so it lives beside it, not in ``app.core``):
``engine`` holds the loaded models and the limits, ``app`` builds the FastAPI
application, and one module per API family translates requests and responses:
``jd`` (SelfieSeg, face_parser), ``facepp`` (HumanBody Segment V2), ``picup``
(matting, matting2, mattingAndAnalysis) and ``tencent``
(SegmentCustomizedPortraitPic on ``/``). The matting model loads at start;
pose and face models load on the first request that needs them, so a server
without face weights still serves matting and answers face requests with a
clear error naming the missing file. ``server.serve`` runs it (uvicorn) for
``livematte serve``; the launcher (``app.main``) hands it to the command line.
"""
