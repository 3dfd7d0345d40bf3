"""What a parser produces: blocks of text with their heading and page, and diagram structure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cto_assistant.errors import CTOError

DocumentKind = Literal[
    "pdf", "docx", "pptx", "xlsx", "html", "markdown", "text", "drawio", "mermaid", "plantuml"
]
BlockKind = Literal["heading", "text", "table"]

MEDIA_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html",
    "markdown": "text/markdown",
    "text": "text/plain",
    "drawio": "application/vnd.jgraph.mxfile",
    "mermaid": "text/vnd.mermaid",
    "plantuml": "text/vnd.plantuml",
}
DIAGRAM_KINDS = frozenset({"drawio", "mermaid", "plantuml"})


class DocumentError(CTOError):
    """A document was refused: wrong type, too large, encrypted, malformed or unsafe."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(f"{name}: {problem}")


@dataclass(frozen=True, slots=True)
class Block:
    """A run of text in reading order: a heading (with its level), a paragraph or a table row set."""

    kind: BlockKind
    text: str
    page: int | None = None
    level: int = 0  # headings: 1 = top level


@dataclass(frozen=True, slots=True)
class Component:
    """A box of an architecture diagram."""

    name: str
    kind: str = "component"
    container: str | None = None


@dataclass(frozen=True, slots=True)
class Connection:
    """An arrow of an architecture diagram, from one component to another."""

    source: str
    target: str
    label: str = ""


@dataclass
class Diagram:
    """Components and their connections, in the order the diagram declares them."""

    components: list[Component] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)

    def add_component(self, component: Component) -> None:
        """Add a component unless one with the same name is already there."""
        if all(existing.name != component.name for existing in self.components):
            self.components.append(component)


@dataclass
class ParsedDocument:
    """The text of one document as blocks, with its title, kind and page count."""

    title: str
    kind: DocumentKind
    blocks: list[Block]
    pages: int | None = None
    diagram: Diagram | None = None

    @property
    def media_type(self) -> str:
        """The IANA media type of the document's kind."""
        return MEDIA_TYPES[self.kind]

    @property
    def text(self) -> str:
        """The whole text, blocks separated by blank lines."""
        return "\n\n".join(block.text for block in self.blocks)
