"""``awsglue.transforms``: the DynamicFrame transforms are not shimmed; importing them works, calling fails."""

from __future__ import annotations

from awsglue import _Unsupported

ApplyMapping = _Unsupported("transforms.ApplyMapping")
DropFields = _Unsupported("transforms.DropFields")
SelectFields = _Unsupported("transforms.SelectFields")
Filter = _Unsupported("transforms.Filter")
Join = _Unsupported("transforms.Join")
RenameField = _Unsupported("transforms.RenameField")
ResolveChoice = _Unsupported("transforms.ResolveChoice")
DropNullFields = _Unsupported("transforms.DropNullFields")
Map = _Unsupported("transforms.Map")

__all__ = ["ApplyMapping", "DropFields", "DropNullFields", "Filter", "Join", "Map", "RenameField", "ResolveChoice",
           "SelectFields"]
