"""S3-compatible storage against a real S3 protocol server on loopback (moto's standalone server)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import boto3
import httpx
import pytest
from dashscope import ImageSynthesis
from PIL import Image

from easel.storage import S3BlobStore
from tests.conftest import EaselServer, ImageHost, free_port, photo

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    name = f"easel-{time.time_ns()}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


def test_blob_round_trip_and_presigned_link(s3_endpoint: str, bucket: str) -> None:
    store = S3BlobStore(bucket, "prefix", s3_endpoint)
    store.put("results/a.png", b"png-bytes", "image/png")
    assert store.get("results/a.png") == b"png-bytes"
    assert store.get("results/missing.png") is None
    link = store.url("results/a.png", int(time.time()) + 60, "http://unused")
    assert httpx.get(link).content == b"png-bytes"
    store.delete("results/a.png")
    assert store.get("results/a.png") is None


def test_server_on_s3_storage(tmp_path, s3_endpoint: str, bucket: str, use_server, image_host: ImageHost) -> None:
    env = {"EASEL_STORAGE_URL": f"s3://{bucket}/easel", "EASEL_S3_ENDPOINT_URL": s3_endpoint, **CREDENTIALS}
    srv = EaselServer(tmp_path / "home", env).start()
    try:
        use_server(srv, srv.new_key())
        rsp = ImageSynthesis.call(model="wanx2.1-imageedit", function="super_resolution", prompt="x",
                                  base_image_url=image_host.put_image("s3.png", photo()), upscale_factor=2)
        assert rsp.output.task_status == "SUCCEEDED", rsp.output
        url = rsp.output.results[0].url
        assert url.startswith(s3_endpoint), "results are served by the object store itself"
        assert Image.open(io.BytesIO(httpx.get(url).content)).size == (1024, 1024)
        keys = [o["Key"] for o in boto3.client("s3", endpoint_url=s3_endpoint)
                .list_objects_v2(Bucket=bucket)["Contents"]]
        assert any(k.startswith("easel/results/") for k in keys)
    finally:
        srv.stop()
