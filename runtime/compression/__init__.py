"""Phase 8's compression library: one module per stage and the stored form.

- ``seedlm``: blocks of C weights as an LFSR seed + P quantised coefficients
  (``lfsr`` generates the bases);
- ``vptq``: Hessian-weighted k-means codebooks (``kmeans``, ``hessian``) and GPTQ-style
  error feedback;
- ``hyper``: groups of weights as indices along an ergodic trajectory;
- ``bitpack``: every code stream stored at its exact width;
- ``codes``: ``LayerCode``, one compressed matrix;
- ``stored``: the ``forge_compressed`` form that ``from_pretrained`` loads (importing it
  registers the transformers quantizer).

The kernel that runs the stages is ``runtime.phases.compression``.
"""
