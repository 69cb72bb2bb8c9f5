"""Publish a file of prepared payloads at QoS 1 as fast as the broker takes them.

python -m benchmarks.publish PORT FILE    (FILE: repeated [2-byte topic length, topic,
                                           4-byte payload length, payload])
"""

from __future__ import annotations

import sys
from pathlib import Path

import paho.mqtt.client as mqtt


def main() -> None:
    port, path = int(sys.argv[1]), Path(sys.argv[2])
    data = path.read_bytes()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-publisher")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    offset, last = 0, None
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 2], "big")
        topic = data[offset + 2 : offset + 2 + size].decode()
        offset += 2 + size
        length = int.from_bytes(data[offset : offset + 4], "big")
        last = client.publish(topic, data[offset + 4 : offset + 4 + length], qos=1)
        offset += 4 + length
    if last is not None:
        last.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main()
