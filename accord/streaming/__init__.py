"""Streaming ingestion: inlets where messages come in, the event log that keeps them, the real-time
processor that takes them into the lake, the identity graph, profiles and streaming audiences."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.streaming.erasure import LogReach, event_log, forget_messages, messages_naming
    from accord.streaming.inlets import create_inlet, delete_inlet, get_inlet, list_inlets
    from accord.streaming.log import Appended, Entry, EventLog, SqliteEventLog, Stored
    from accord.streaming.nats_log import NatsEventLog
    from accord.streaming.open_log import open_event_log
    from accord.streaming.processor import Processor, ProcessorStats
    from accord.streaming.segment_inlets import create_segment_inlet
    from accord.streaming.segment_spec import SegmentMapping, map_call
    from accord.streaming.service import StreamingService

_EXPORTS = {
    "erasure": ["LogReach", "event_log", "forget_messages", "messages_naming"],
    "inlets": ["create_inlet", "delete_inlet", "get_inlet", "list_inlets"],
    "log": ["Appended", "Entry", "EventLog", "SqliteEventLog", "Stored"],
    "nats_log": ["NatsEventLog"],
    "open_log": ["open_event_log"],
    "processor": ["Processor", "ProcessorStats"],
    "segment_inlets": ["create_segment_inlet"],
    "segment_spec": ["SegmentMapping", "map_call"],
    "service": ["StreamingService"],
}
__all__ = lazy_face(__name__, _EXPORTS)
