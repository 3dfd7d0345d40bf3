"""Architecture diagrams → components and connections: draw.io XML, Mermaid and PlantUML text.

draw.io files are XML read with entity resolution, DTDs and the network off; a compressed
`<diagram>` (base64 + raw deflate + URL-encoding) is inflated with a size cap. Mermaid
flowcharts and sequence diagrams and PlantUML component/deployment/sequence diagrams are read
line by line: these text formats have no Python parser to lean on, and only their declaration
and arrow statements matter here.
"""

from __future__ import annotations

import base64
import re
import zlib
from typing import Any
from urllib.parse import unquote

from cto_assistant.documents.model import (
    Block,
    Component,
    Connection,
    Diagram,
    DocumentError,
    DocumentKind,
    ParsedDocument,
)
from cto_assistant.documents.sniff import Limits, decode_text
from cto_assistant.documents.text import guarded, title_from_name

MAX_INFLATED = 20 * 1024 * 1024


def diagram_document(
    diagram: Diagram, *, title: str, kind: DocumentKind, page: int | None = None
) -> list[Block]:
    """Blocks that describe a diagram in words (what the index and the summary read)."""
    blocks = [Block("heading", "Components", page=page, level=2)]
    for component in diagram.components:
        detail = f" ({component.kind})" if component.kind != "component" else ""
        where = f" in {component.container}" if component.container else ""
        blocks.append(Block("text", f"Component: {component.name}{detail}{where}.", page=page))
    blocks.append(Block("heading", "Connections", page=page, level=2))
    for connection in diagram.connections:
        label = f": {connection.label}" if connection.label else ""
        blocks.append(
            Block(
                "text", f"Connection: {connection.source} → {connection.target}{label}.", page=page
            )
        )
    return blocks


def _finish(
    name: str, title: str, kind: DocumentKind, pages: list[tuple[str, Diagram]]
) -> ParsedDocument:
    merged = Diagram()
    blocks: list[Block] = []
    for number, (page_name, diagram) in enumerate(pages, start=1):
        for component in diagram.components:
            merged.add_component(component)
        merged.connections.extend(diagram.connections)
        page = number if len(pages) > 1 else None
        if len(pages) > 1:
            blocks.append(Block("heading", page_name, page=page, level=1))
        blocks.extend(diagram_document(diagram, title=title, kind=kind, page=page))
    if not merged.components:
        raise DocumentError(name, "no components found in the diagram")
    return ParsedDocument(
        title=title,
        kind=kind,
        blocks=blocks,
        pages=len(pages) if len(pages) > 1 else None,
        diagram=merged,
    )


# draw.io -------------------------------------------------------------------------------------


def parse_drawio(data: bytes, name: str, limits: Limits) -> ParsedDocument:
    """Read a draw.io / diagrams.net file: every page's shapes and arrows."""
    text = decode_text(data, name)
    with guarded(name, "draw.io file"):
        root = _safe_xml(text.encode("utf-8"))
        pages: list[tuple[str, Diagram]] = []
        if root.tag == "mxGraphModel":
            pages.append(("Page-1", _graph_model(root)))
        else:
            for number, element in enumerate(root.iter("diagram"), start=1):
                page_name = element.get("name") or f"Page-{number}"
                model = element.find("mxGraphModel")
                if model is None and (element.text or "").strip():
                    model = _safe_xml(_inflate(element.text or "", name))
                if model is not None:
                    pages.append((page_name, _graph_model(model)))
        if not pages:
            raise DocumentError(name, "no diagram pages found")
    title = _drawio_title(root) or title_from_name(name)
    return _finish(name, title, "drawio", pages)


def _safe_xml(data: bytes) -> Any:
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
    )
    return etree.fromstring(data, parser=parser)


def _drawio_title(root: Any) -> str | None:
    first = next(iter(root.iter("diagram")), None)
    title = first.get("name") if first is not None else None
    return title if title and not re.fullmatch(r"Page-\d+", title) else None


def _inflate(encoded: str, name: str) -> bytes:
    """Decode draw.io's compressed page: base64, raw deflate, then URL-encoding."""
    raw = base64.b64decode(encoded.strip(), validate=False)
    inflater = zlib.decompressobj(-15)
    inflated = inflater.decompress(raw, MAX_INFLATED)
    if inflater.unconsumed_tail:
        raise DocumentError(name, "a compressed diagram page inflates past the size limit")
    return unquote(inflated.decode("utf-8")).encode("utf-8")


def _label(value: str | None) -> str:
    """A shape's visible label: HTML labels reduced to their text."""
    if not value:
        return ""
    if "<" in value:
        import lxml.html

        try:
            value = lxml.html.fragment_fromstring(value, create_parent="div").text_content()
        except (ValueError, TypeError):
            value = re.sub(r"<[^>]+>", " ", value)
    return " ".join(value.replace("&nbsp;", " ").split())


def _shape_kind(style: str) -> str:
    style = style.lower()
    for needle, kind in (
        ("cylinder", "database"),
        ("database", "database"),
        ("datastore", "database"),
        ("queue", "queue"),
        ("actor", "actor"),
        ("umlactor", "actor"),
        ("cloud", "cloud"),
        ("swimlane", "container"),
        ("group", "container"),
        ("container=1", "container"),
    ):
        if needle in style:
            return kind
    shape = re.search(r"(?:shape|resicon|prIcon)=([\w.]+)", style)
    return shape.group(1).split(".")[-1] if shape else "component"


def _graph_model(model: Any) -> Diagram:
    cells: dict[str, dict[str, str]] = {}
    for cell in model.iter("mxCell"):
        wrapper = cell.getparent()
        attributes = dict(cell.attrib)
        if wrapper is not None and wrapper.tag in ("object", "UserObject"):
            attributes.setdefault("id", wrapper.get("id", ""))
            attributes["value"] = wrapper.get("label", "")
        if attributes.get("id"):
            cells[attributes["id"]] = attributes
    names = {cell_id: _label(cell.get("value")) for cell_id, cell in cells.items()}
    edge_labels: dict[str, str] = {}
    for cell in cells.values():
        parent = cell.get("parent", "")
        if cell.get("vertex") == "1" and parent in cells and cells[parent].get("edge") == "1":
            edge_labels[parent] = " ".join(
                filter(None, [edge_labels.get(parent), names[cell["id"]]])
            )
    diagram = Diagram()
    for cell_id, cell in cells.items():
        if cell.get("vertex") != "1" or not names[cell_id]:
            continue
        parent = cell.get("parent", "")
        if parent in cells and cells[parent].get("edge") == "1":
            continue  # a label on an arrow
        container = names.get(parent) if cells.get(parent, {}).get("vertex") == "1" else None
        diagram.add_component(
            Component(names[cell_id], _shape_kind(cell.get("style", "")), container or None)
        )
    for cell_id, cell in cells.items():
        if cell.get("edge") != "1":
            continue
        source, target = cell.get("source", ""), cell.get("target", "")
        if not source or not target:
            continue
        label = names[cell_id] or edge_labels.get(cell_id, "")
        diagram.connections.append(
            Connection(names.get(source) or source, names.get(target) or target, label)
        )
    return diagram


# Mermaid -------------------------------------------------------------------------------------

MERMAID_NODE = re.compile(
    r"^\s*([\w.:-]+)\s*(?:(\(\(|\(\[|\[\(|\[\[|\[/|\[\\|\{\{|\[|\(|\{|>)\s*\"?(.*?)\"?\s*"
    r"(\)\)|\]\)|\)\]|\]\]|/\]|\\\]|\}\}|\]|\)|\}))?\s*(?::::\w+)?\s*$"
)
MERMAID_ARROW = re.compile(
    r"\s*<?(?:-{2,}|={2,}|-\.+-|~{3,})(?:>|[xo](?=\s))?(?:\|\s*\"?([^|]*?)\"?\s*\|)?\s*"
)
MERMAID_TEXT_ARROW = re.compile(r"(--|==|-\.)\s+([^-=|>][^|>]*?)\s+(-->|==>|\.->|---|-\.-)")
MERMAID_SKIP = re.compile(
    r"^\s*(%%|classDef\b|class\b|style\b|linkStyle\b|click\b|direction\b|accTitle|accDescr)"
)
SEQUENCE_MESSAGE = re.compile(
    r"^\s*([\w.]+(?:-[\w.]+)*)\s*(-{1,2}(?:>>|>|x|\))?)\s*[+-]?([\w.]+(?:-[\w.]+)*)\s*:\s*(.*)$"
)
MERMAID_SHAPES = {"[(": "database", "((": "component", "{": "decision", "{{": "component"}


def parse_mermaid(data: bytes, name: str, limits: Limits) -> ParsedDocument:
    """Read a Mermaid flowchart or sequence diagram into components and connections."""
    text = decode_text(data, name)
    with guarded(name, "Mermaid diagram"):
        title, body = _front_matter_title(text)
        lines = [line for line in body.splitlines() if line.strip()]
        header = lines[0].strip() if lines else ""
        if header.startswith("sequenceDiagram"):
            diagram = _mermaid_sequence(lines[1:])
        elif header.split()[0] in ("graph", "flowchart") if header else False:
            diagram = _mermaid_flowchart(lines[1:])
        else:
            raise DocumentError(
                name, f"only Mermaid flowcharts and sequence diagrams are read (got {header!r})"
            )
    return _finish(name, title or title_from_name(name), "mermaid", [("Diagram", diagram)])


def _front_matter_title(text: str) -> tuple[str | None, str]:
    match = re.match(r"^\s*---\s*\n(.*?)\n---\s*\n", text, re.S)
    if not match:
        return None, text
    title = re.search(r"^title:\s*(.+)$", match.group(1), re.M)
    return (title.group(1).strip().strip("\"'") if title else None), text[match.end() :]


def _mermaid_flowchart(lines: list[str]) -> Diagram:
    diagram = Diagram()
    labels: dict[str, str] = {}
    kinds: dict[str, str] = {}
    containers: list[str] = []
    members: dict[str, str | None] = {}
    edges: list[tuple[str, str, str]] = []

    def node(expression: str) -> str | None:
        match = MERMAID_NODE.match(expression)
        if not match:
            return None
        node_id, opener, label = match.group(1), match.group(2), match.group(3)
        if opener and label:
            labels[node_id] = label.strip()
            kinds[node_id] = MERMAID_SHAPES.get(opener, "component")
        members.setdefault(node_id, containers[-1] if containers else None)
        return node_id

    for raw in lines:
        for statement in raw.split(";"):
            statement = statement.strip()
            if not statement or MERMAID_SKIP.match(statement):
                continue
            if statement.startswith("subgraph"):
                rest = statement.removeprefix("subgraph").strip()
                match = MERMAID_NODE.match(rest)
                containers.append(
                    (match.group(3) or match.group(1)) if match and match.group(1) else rest
                )
                continue
            if statement == "end":
                if containers:
                    containers.pop()
                continue
            statement = MERMAID_TEXT_ARROW.sub(lambda m: f"{m.group(3)}|{m.group(2)}|", statement)
            parts = MERMAID_ARROW.split(statement)
            groups = [[node(expr) for expr in parts[i].split("&")] for i in range(0, len(parts), 2)]
            edge_labels = [parts[i] or "" for i in range(1, len(parts), 2)]
            for index, label in enumerate(edge_labels):
                for source in groups[index]:
                    for target in groups[index + 1]:
                        if source and target:
                            edges.append((source, target, label.strip()))
    for node_id, container in members.items():
        diagram.add_component(
            Component(labels.get(node_id, node_id), kinds.get(node_id, "component"), container)
        )
    for source, target, label in edges:
        diagram.connections.append(
            Connection(labels.get(source, source), labels.get(target, target), label)
        )
    return diagram


def _mermaid_sequence(lines: list[str]) -> Diagram:
    diagram = Diagram()
    aliases: dict[str, str] = {}
    for raw in lines:
        line = raw.strip()
        declared = re.match(r"^(participant|actor)\s+([\w.-]+)(?:\s+as\s+(.+))?$", line)
        if declared:
            aliases[declared.group(2)] = (declared.group(3) or declared.group(2)).strip()
            diagram.add_component(
                Component(
                    aliases[declared.group(2)],
                    "actor" if declared.group(1) == "actor" else "component",
                )
            )
            continue
        message = SEQUENCE_MESSAGE.match(line)
        if message:
            source, target = (aliases.get(message.group(k), message.group(k)) for k in (1, 3))
            diagram.add_component(Component(source))
            diagram.add_component(Component(target))
            diagram.connections.append(Connection(source, target, message.group(4).strip()))
    return diagram


# PlantUML ------------------------------------------------------------------------------------

PLANTUML_KINDS = [
    "component",
    "node",
    "database",
    "actor",
    "participant",
    "queue",
    "cloud",
    "rectangle",
    "package",
    "frame",
    "interface",
    "boundary",
    "control",
    "entity",
    "collections",
    "storage",
    "usecase",
    "folder",
    "file",
    "card",
    "artifact",
    "agent",
    "stack",
    "hexagon",
    "person",
    "system",
    "container",
]
PLANTUML_DECLARATION = re.compile(
    r"^(" + "|".join(PLANTUML_KINDS) + r")\s+(\"[^\"]+\"|\[[^\]]+\]|[\w.]+)"
    r"(?:\s+as\s+(\"[^\"]+\"|[\w.]+))?.*?(\{)?\s*$"
)
PLANTUML_BRACKET = re.compile(r"^\[([^\]]+)\](?:\s+as\s+([\w.]+))?\s*$")
PLANTUML_ARROW = re.compile(
    r"^(\[[^\]]+\]|\"[^\"]+\"|[\w.]+)\s*(<?[-.=]+(?:\w+[-.=]+)?(?:\[[^\]]*\][-.=]*)?>?)\s*"
    r"(\[[^\]]+\]|\"[^\"]+\"|[\w.]+)\s*(?::\s*(.*))?$"
)


def parse_plantuml(data: bytes, name: str, limits: Limits) -> ParsedDocument:
    """Read a PlantUML component, deployment or sequence diagram."""
    text = decode_text(data, name)
    with guarded(name, "PlantUML diagram"):
        diagram = Diagram()
        aliases: dict[str, str] = {}
        containers: list[str] = []
        title: str | None = None

        def resolve(token: str) -> str:
            token = token.strip()
            if token.startswith("[") and token.endswith("]"):
                token = token[1:-1]
            token = token.strip('"')
            return aliases.get(token, token)

        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith(
                ("'", "@", "!", "skinparam", "note", "left to", "top to")
            ):
                continue
            if line.startswith("title "):
                title = line.removeprefix("title ").strip()
                continue
            if line == "}":
                if containers:
                    containers.pop()
                continue
            declared = PLANTUML_DECLARATION.match(line)
            if declared:
                label = declared.group(2).strip('"[]')
                alias = (declared.group(3) or "").strip('"')
                if alias:
                    aliases[alias] = label
                container = containers[-1] if containers else None
                kind = declared.group(1)
                if declared.group(4):
                    containers.append(label)
                    kind = "container"
                diagram.add_component(
                    Component(label, kind if kind != "component" else "component", container)
                )
                continue
            bracket = PLANTUML_BRACKET.match(line)
            if bracket:
                if bracket.group(2):
                    aliases[bracket.group(2)] = bracket.group(1)
                diagram.add_component(
                    Component(bracket.group(1), container=containers[-1] if containers else None)
                )
                continue
            arrow = PLANTUML_ARROW.match(line)
            if arrow and ("-" in arrow.group(2) or "." in arrow.group(2)):
                source, target = resolve(arrow.group(1)), resolve(arrow.group(3))
                if arrow.group(2).startswith("<") and not arrow.group(2).endswith(">"):
                    source, target = target, source
                diagram.add_component(Component(source))
                diagram.add_component(Component(target))
                diagram.connections.append(
                    Connection(source, target, (arrow.group(4) or "").strip())
                )
    return _finish(name, title or title_from_name(name), "plantuml", [("Diagram", diagram)])
