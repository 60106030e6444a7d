"""Worker process of :mod:`semlink.phy.ldpc_pool`: decodes LDPC code words with ``ldpc.BpDecoder``.

Run by path (``python -P .../_ldpc_worker.py``) as a worker: it needs only
numpy, scipy and the ``ldpc`` package, so it starts in a fraction of a second
and does not load torch. It reads pickled requests from stdin and writes
pickled replies to stdout until stdin closes (its parent ended or closed the
pool):

* ``("decode", key, config, probs, hard, k)``: ``config`` is ``None`` when this
  worker already holds a decoder for ``key``, else ``(indptr, indices, shape,
  max_iter, bp_method, schedule)`` of the parity-check matrix (CSR, 0/1) and
  the decoder's settings; ``probs`` [m, n] float64 are the per-bit
  probabilities that ``hard`` [m, n] uint8 is wrong. Reply ``("ok", bits
  [m, k] uint8, iterations [m] int64)``.
* any failure: reply ``("error", traceback text)``; the worker keeps serving.

:func:`bp_decoder` and :func:`decode_words` are also what
:class:`~semlink.phy.ldpc_compiled.CompiledBPDecoder` runs in its own process.
"""

import pickle
import sys
import traceback

import numpy as np


def bp_decoder(pcm, max_iter: int, bp_method: str, schedule: str):
    """``ldpc.BpDecoder`` on the 0/1 parity-check matrix ``pcm`` (scipy sparse), syndrome form."""
    import ldpc

    return ldpc.BpDecoder(pcm, error_rate=0.1, max_iter=max_iter, bp_method=bp_method,
                          ms_scaling_factor=1.0, schedule=schedule,
                          input_vector_type="received_vector", omp_thread_count=1,
                          random_serial_schedule=False)


def decode_words(bp, probs: np.ndarray, hard: np.ndarray, k: int):
    """Decode code words one by one: ``probs`` [m, n] float64, ``hard`` [m, n] uint8.

    :returns: ``(bits [m, k] uint8, iterations [m] int64)``.
    """
    bits = np.empty((len(hard), k), dtype=np.uint8)
    iterations = np.empty(len(hard), dtype=np.int64)
    for i in range(len(hard)):
        bp.update_channel_probs(probs[i])
        bits[i] = bp.decode(hard[i])[:k]
        iterations[i] = bp.iter
    return bits, iterations


def _decoder(config):
    import scipy.sparse as sp

    indptr, indices, shape, max_iter, bp_method, schedule = config
    pcm = sp.csr_matrix((np.ones(len(indices), dtype=np.uint8), indices, indptr), shape=shape)
    return bp_decoder(pcm, max_iter, bp_method, schedule)


def serve(inp, out) -> None:
    decoders = {}
    while True:
        try:
            request = pickle.load(inp)
        except EOFError:
            return
        try:
            _, key, config, probs, hard, k = request
            if config is not None:
                decoders[key] = _decoder(config)
            reply = ("ok", *decode_words(decoders[key], probs, hard, k))
        except Exception:  # noqa: BLE001 -- reported to the parent, which raises
            reply = ("error", traceback.format_exc())
        pickle.dump(reply, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
