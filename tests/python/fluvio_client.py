"""
One step of Fluvio's Python client (PyPI fluvio 0.21.0) against a cluster's SC endpoint, for
tests/e2e/fluvio-python-client.test.ts: each step prints one JSON document on stdout, and a
failure exits non-zero with the client's error on stderr.

    fluvio_client.py ENDPOINT create TOPIC PARTITIONS [RETENTION_SECONDS SEGMENT MAX_PARTITION COMPRESSION]
    fluvio_client.py ENDPOINT produce TOPIC COMPRESSION PREFIX COUNT
    fluvio_client.py ENDPOINT consume TOPIC PARTITION
    fluvio_client.py ENDPOINT consume-from TOPIC PARTITION OFFSET
    fluvio_client.py ENDPOINT list
    fluvio_client.py ENDPOINT offset-consume TOPIC PARTITION CONSUMER COUNT
    fluvio_client.py ENDPOINT consumer-offsets
    fluvio_client.py ENDPOINT delete-consumer-offset CONSUMER TOPIC PARTITION
"""
import json
import sys

from fluvio import (
    Compression,
    ConsumerConfig,
    ConsumerConfigExtBuilder,
    Fluvio,
    FluvioAdmin,
    FluvioConfig,
    Offset,
    OffsetManagementStrategy,
    TopicProducerConfigBuilder,
    TopicSpec,
)

COMPRESSIONS = {
    "none": Compression.None_,
    "gzip": Compression.Gzip,
    "snappy": Compression.Snappy,
    "lz4": Compression.Lz4,
    "zstd": Compression.Zstd,
}


def config(endpoint):
    fluvio_config = FluvioConfig.new(endpoint)
    fluvio_config.disable_tls()
    return fluvio_config


def create(endpoint, topic, partitions, retention=None, segment=None, max_partition=None, compression=None):
    spec = TopicSpec.create().with_partitions(int(partitions))
    # NOTE: seconds as an int: 0.21.0 hands a parsed duration string on as a float, which its own binding refuses.
    if retention:
        spec = spec.with_retention_time(int(retention))
    if segment:
        spec = spec.with_segment_size(segment)
    if max_partition:
        spec = spec.with_max_partition_size(max_partition)
    built = spec.build()
    # NOTE: on the built spec: 0.21.0's with_compression hands its enum's text to a binding that wants a Compression.
    if compression:
        built.set_compression_type(COMPRESSIONS[compression])
    FluvioAdmin.connect_with_config(config(endpoint)).create_topic(topic, built)
    return {"created": topic}


def produce(endpoint, topic, compression, prefix, count):
    fluvio = Fluvio.connect_with_config(config(endpoint))
    producer_config = TopicProducerConfigBuilder().compression(COMPRESSIONS[compression]).build()
    producer = fluvio.topic_producer_with_config(topic, producer_config)
    outputs = [producer.send_string(f"{prefix}-{index}") for index in range(int(count))]
    producer.flush()
    acknowledged = [output.wait() for output in outputs]
    return {"offsets": [[metadata.partition_id(), metadata.offset()] for metadata in acknowledged]}


def consume(endpoint, topic, partition, offset=None):
    fluvio = Fluvio.connect_with_config(config(endpoint))
    consumer_config = ConsumerConfig()
    consumer_config.disable_continuous()
    start = Offset.beginning() if offset is None else Offset.absolute(int(offset))
    stream = fluvio.partition_consumer(topic, int(partition)).stream_with_config(start, consumer_config)
    return {"records": [[record.offset(), record.value_string()] for record in stream]}


def listing(endpoint):
    admin = FluvioAdmin.connect_with_config(config(endpoint))
    return {
        "topics": sorted(topic.name() for topic in admin.list_topics([])),
        "partitions": sorted(partition.name() for partition in admin.list_partitions([])),
    }


def offset_consume(endpoint, topic, partition, consumer, count):
    """Reads COUNT records as CONSUMER (from its committed offset, else the beginning), then commits and flushes."""
    fluvio = Fluvio.connect_with_config(config(endpoint))
    builder = ConsumerConfigExtBuilder(topic)
    builder.partition(int(partition))
    builder.offset_start(Offset.beginning())
    builder.offset_consumer(consumer)
    builder.offset_strategy(OffsetManagementStrategy.MANUAL)
    stream = fluvio.consumer_with_config(builder.build())
    records = []
    for _ in range(int(count)):
        record = next(stream)
        records.append([record.offset(), record.value_string()])
    stream.offset_commit()
    stream.offset_flush()
    return {"records": records}


def consumer_offsets(endpoint):
    fluvio = Fluvio.connect_with_config(config(endpoint))
    offsets = [[entry.consumer_id, entry.topic, entry.partition, entry.offset, entry.modified_time] for entry in fluvio.consumer_offsets()]
    return {"offsets": sorted(offsets)}


def delete_consumer_offset(endpoint, consumer, topic, partition):
    Fluvio.connect_with_config(config(endpoint)).delete_consumer_offset(consumer, topic, int(partition))
    return {"deleted": consumer}


STEPS = {
    "create": create,
    "produce": produce,
    "consume": consume,
    "consume-from": consume,
    "list": listing,
    "offset-consume": offset_consume,
    "consumer-offsets": consumer_offsets,
    "delete-consumer-offset": delete_consumer_offset,
}

if __name__ == "__main__":
    endpoint, step, *arguments = sys.argv[1:]
    print(json.dumps(STEPS[step](endpoint, *arguments)))
