"""The fallback study's policy: which read stands when ours is unsure and the peer read."""

from models.peer_fallback import policy
from recognition.recognizer import Read


def read(plate: str, confidence: float) -> Read:
    return Read(plate, confidence, (confidence,) * len(plate), (0, 0, 100, 20), "")


def test_the_peer_replaces_only_reads_below_the_threshold():
    choose = policy(0.7)
    assert choose(read("GBL12X", 0.69), "GBL12K") == "GBL12K"
    assert choose(read("GBL12X", 0.70), "GBL12K") == "GBL12X"
    assert choose(read("GBL12X", 0.10), "") == "GBL12X", "the peer read nothing"


def test_must_fit_a_layout_keeps_ours_when_the_peers_text_fits_none():
    choose = policy(0.9, must_fit_layout=True)
    assert choose(read("GBL12X", 0.5), "XX") == "GBL12X"
    assert choose(read("GB112X", 0.5), "GBL12X") == "GBL12X"
    assert policy(0.0)(read("GBL12X", 0.01), "ANYTHING") == "GBL12X", "threshold 0: ours alone"
