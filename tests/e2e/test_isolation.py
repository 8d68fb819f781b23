"""No key sees, cancels or lists another key's tasks; workspaces scope tasks within a key."""

from __future__ import annotations

from dashscope import ImageSynthesis

from tests.conftest import EaselServer, ImageHost, photo

MODEL = "wanx2.1-imageedit"


def test_second_key_cannot_touch_first_keys_tasks(api_only_server: EaselServer, use_server,
                                                   image_host: ImageHost) -> None:
    alice, bob = api_only_server.new_key("alice"), api_only_server.new_key("bob")
    url = image_host.put_image("iso.png", photo())
    use_server(api_only_server, alice)
    task_id = ImageSynthesis.async_call(model=MODEL, function="super_resolution", prompt="x",
                                        base_image_url=url).output.task_id

    use_server(api_only_server, bob)
    assert ImageSynthesis.fetch(task_id).output.task_status == "UNKNOWN"
    assert ImageSynthesis.cancel(task_id).status_code == 400
    assert ImageSynthesis.list().output["total"] == 0

    use_server(api_only_server, alice)
    assert ImageSynthesis.fetch(task_id).output.task_status == "PENDING", "bob's cancel had no effect"
    assert [t["task_id"] for t in ImageSynthesis.list().output["data"]] == [task_id]


def test_second_key_cannot_read_first_keys_results(sdk: EaselServer, use_server, image_host: ImageHost) -> None:
    url = image_host.put_image("iso-result.png", photo())
    done = ImageSynthesis.call(model=MODEL, function="super_resolution", prompt="x", base_image_url=url)
    assert done.output.task_status == "SUCCEEDED"
    use_server(sdk, sdk.new_key("eve"))
    seen = ImageSynthesis.fetch(done.output.task_id)
    assert seen.output.task_status == "UNKNOWN"
    assert not seen.output.results


def test_workspaces_scope_tasks(api_only_server: EaselServer, use_server, image_host: ImageHost) -> None:
    use_server(api_only_server, api_only_server.new_key("ws"))
    url = image_host.put_image("ws.png", photo())
    task_id = ImageSynthesis.async_call(model=MODEL, function="super_resolution", prompt="x", base_image_url=url,
                                        workspace="ws-one").output.task_id
    assert ImageSynthesis.fetch(task_id, workspace="ws-one").output.task_status == "PENDING"
    assert ImageSynthesis.fetch(task_id, workspace="ws-two").output.task_status == "UNKNOWN"
    assert ImageSynthesis.list(workspace="ws-two").output["total"] == 0
    assert ImageSynthesis.list(workspace="ws-one").output["total"] == 1
    assert ImageSynthesis.cancel(task_id, workspace="ws-two").status_code == 400
