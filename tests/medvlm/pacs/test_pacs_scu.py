"""The sender against real peers on 127.0.0.1: our listener, and a pynetdicom SCP that accepts only CT."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pydicom
import pytest
from pynetdicom import AE, evt
from pynetdicom.sop_class import CTImageStorage  # type: ignore[attr-defined]

from medvlm.pacs import scu
from medvlm.pacs.errors import PacsError
from medvlm.service.dicom_listener.listener import ListenerHandle


@pytest.fixture
def ct_only_port() -> Iterator[int]:
    """A peer that stores CT only (in memory) and answers Success; anything else it does not negotiate."""
    ae = AE(ae_title="CTONLY")
    ae.add_supported_context(CTImageStorage)
    server = ae.start_server(("127.0.0.1", 0), block=False,
                             evt_handlers=[(evt.EVT_C_STORE, lambda event: 0x0000)])
    yield int(server.server_address[1])
    server.shutdown()


def test_send_returns_each_outcome(listener: ListenerHandle, testdata: Callable[[str], Path]) -> None:
    files = [testdata("CT_small.dcm"), testdata("MR_small.dcm")]
    data = files[1].read_bytes()  # bytes and datasets are accepted as well as paths
    dataset = pydicom.dcmread(testdata("JPEG2000.dcm"))
    results = scu.send("127.0.0.1", listener.port, [files[0], data, dataset], called_ae="MEDVLM")
    assert [r.ok for r in results] == [True, True, True]
    assert results[0].name == str(files[0]) and results[1].name == "item 2"
    assert results[0].describe().endswith("0x0000 Success")


def test_sop_class_the_peer_does_not_accept(ct_only_port: int, testdata: Callable[[str], Path]) -> None:
    with pytest.raises(scu.PacsSendError, match=r"1 of 2 .*MR_small.dcm: 0x0122") as failed:
        scu.send("127.0.0.1", ct_only_port, [testdata("CT_small.dcm"), testdata("MR_small.dcm")],
                 called_ae="CTONLY")
    assert [r.status for r in failed.value.results] == [0x0000, 0x0122]


def test_peer_accepting_nothing_we_offer(ct_only_port: int, testdata: Callable[[str], Path]) -> None:
    with pytest.raises(PacsError, match=r"CTONLY at 127.0.0.1:\d+ accepted none .*\(MR Image Storage\)"):
        scu.send("127.0.0.1", ct_only_port, [testdata("MR_small.dcm")], called_ae="CTONLY")


def _unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("make_items", "kwargs", "message"), [
    (lambda tmp, data: [tmp / "notdicom.txt"], {}, r"notdicom.txt: not a readable DICOM file"),
    (lambda tmp, data: [b"\0" * 200], {}, "item 1: not a readable DICOM file"),
    (lambda tmp, data: [], {}, "nothing to send"),
    (lambda tmp, data: [data("CT_small.dcm")], {"calling_ae": "WAY-TOO-LONG-AE-TITLE"}, "invalid AE title"),
    (lambda tmp, data: [data("CT_small.dcm")], {"port": "unused"}, "cannot connect to ANY-SCP at 127.0.0.1"),
])
def test_send_bad_input_is_a_clear_error(tmp_path: Path, testdata: Callable[[str], Path],
                                         make_items: Callable[..., list[object]], kwargs: dict[str, object],
                                         message: str) -> None:
    (tmp_path / "notdicom.txt").write_text("hello")
    port = _unused_port() if kwargs.pop("port", None) == "unused" else 9  # 9: nothing is reached first
    with pytest.raises(PacsError, match=message):
        scu.send("127.0.0.1", port, make_items(tmp_path, testdata), **kwargs)  # type: ignore[arg-type]


def test_echo_connection_refused() -> None:
    with pytest.raises(PacsError, match=r"cannot connect to ANY-SCP at 127.0.0.1:\d+: Connection refused"):
        scu.echo("127.0.0.1", _unused_port(), timeout=2)
