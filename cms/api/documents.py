"""Trusted documents: the operations in graphql/operations/, known by their sha256 from start-up.

A document is known by the hash of its exact file text (what the tests, the docs and `curl` users send), of its
printed form (graphql-js `print`, which clients holding a parsed or code-generated document send) and of that form
with `__typename` in every selection set below the root (what urql's and Apollo Client's normalised caches add before
printing): each hash maps to the text that hashes to it, so a client gets back exactly the fields it asked for.

`TrustedDocuments.allows(text)` says whether a document may run when only trusted documents are accepted
(CMS_TRUSTED_DOCUMENTS_ONLY): its exact text is a trusted one, or it prints (with `__typename` added as above) like
one, or it is the admin app's bulk batch of one (plugins/admin/web/src/lib/bulk.ts `batchDocument`: the single root
field of a trusted document repeated under the aliases item0..itemN-1 with its variables renamed $x -> $x_0 ...),
rebuilt here from the trusted document for the same count and compared printed AST to printed AST.

Pure: no HTTP, no I/O beyond reading the files once; the compiled executor can share the registry.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    parse,
    print_ast,
    visit,
)

log = logging.getLogger("cms.api.documents")
OPERATIONS_DIR = "graphql/operations"
MAX_BATCH_ITEMS = 100  # the admin sends at most 25 (a page's selection); anything longer is not its batch
MAX_TOKENS = 50_000  # parsing a document to compare it stops here (a batch of 100 is about 10,000)
_VERDICTS = 2048  # allows() answers remembered, by the document's hash


def sha256_hex(text: str) -> str:
    """The APQ hash of a document: sha256 of its UTF-8 text, lower-case hex."""
    return hashlib.sha256(text.encode()).hexdigest()


class _AddTypename(Visitor):
    """urql's formatDocument (and Apollo Client's addTypename): `__typename` appended to every selection set below
    the operation's root that has no unaliased `__typename` yet."""

    def leave_selection_set(self, node: SelectionSetNode, _key: Any, parent: Any, *_: Any) -> SelectionSetNode | None:
        if isinstance(parent, OperationDefinitionNode) or any(
            isinstance(s, FieldNode) and s.alias is None and s.name.value == "__typename" for s in node.selections
        ):
            return None
        typename = FieldNode(name=NameNode(value="__typename"), arguments=(), directives=())
        return SelectionSetNode(selections=(*node.selections, typename))


def with_typenames(document: DocumentNode) -> DocumentNode:
    return visit(document, _AddTypename())  # type: ignore[no-any-return]  # graphql-core types visit loosely


def canonical(document: DocumentNode) -> str:
    """The printed form two documents share when they differ only in layout, comments or added `__typename`."""
    return print_ast(with_typenames(document))


class _Rename(Visitor):
    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def enter_variable(self, node: VariableNode, *_: Any) -> VariableNode:
        return VariableNode(name=NameNode(value=f"{node.name.value}_{self.index}"))


def batch_document(document: DocumentNode, count: int) -> DocumentNode | None:
    """bulk.ts `batchDocument` in Python: the document's one root field `count` times under the aliases item0...,
    each copy with its variables renamed `$x` -> `$x_<index>`; None when the document is not one bulk.ts takes
    (exactly one operation, with exactly one root field)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        return None
    operation = operations[0]
    selections = operation.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    field = selections[0]
    fields: list[FieldNode] = []
    variables: list[VariableDefinitionNode] = []
    for index in range(count):
        copy: FieldNode = visit(field, _Rename(index))
        fields.append(
            FieldNode(
                alias=NameNode(value=f"item{index}"),
                name=copy.name,
                arguments=copy.arguments,
                directives=copy.directives,
                selection_set=copy.selection_set,
            )
        )
        variables += [visit(definition, _Rename(index)) for definition in operation.variable_definitions or ()]
    batch = OperationDefinitionNode(
        operation=operation.operation,
        name=NameNode(value=f"{operation.name.value}Batch" if operation.name else "Batch"),
        variable_definitions=tuple(variables),
        directives=operation.directives,
        selection_set=SelectionSetNode(selections=tuple(fields)),
    )
    return DocumentNode(definitions=(batch,))


@dataclass(frozen=True)
class TrustedDocument:
    name: str  # the file's stem
    text: str  # exactly as in the file
    sha256: str  # of `text`
    document: DocumentNode


class TrustedDocuments:
    """hash -> document text for the trusted documents, and the trusted-only check."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self.documents: list[TrustedDocument] = []
        self._texts: dict[str, str] = {}  # every accepted hash -> the text that hashes to it
        self._canonical: set[str] = set()
        self._by_operation: dict[str, list[DocumentNode]] = {}  # operation name -> documents defining it
        for name, text in sorted(texts.items()):
            try:
                document = parse(text)
            except GraphQLError as exc:  # a broken file is not trusted; the others still are
                log.warning("trusted document %s not loaded: %s", name, exc)
                continue
            self.documents.append(TrustedDocument(name, text, sha256_hex(text), document))
            for form in (text, print_ast(document), canonical(document)):
                self._texts[sha256_hex(form)] = form
            self._canonical.add(canonical(document))
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode) and definition.name:
                    self._by_operation.setdefault(definition.name.value, []).append(document)
        self._verdicts: OrderedDict[str, bool] = OrderedDict()

    @classmethod
    def load(cls, directories: Iterable[Path] | None = None) -> TrustedDocuments:
        """The *.graphql files of the first directory that has any: the source tree's graphql/operations, then the
        working directory's (the image copies graphql/ into its WORKDIR while the code runs from site-packages)."""
        if directories is None:
            directories = [Path(__file__).resolve().parents[2] / OPERATIONS_DIR, Path.cwd() / OPERATIONS_DIR]
        for directory in directories:
            files = sorted(directory.glob("*.graphql")) if directory.is_dir() else []
            if files:
                return cls({file.stem: file.read_text(encoding="utf-8") for file in files})
        log.warning("no %s found: no trusted documents", OPERATIONS_DIR)
        return cls({})

    def __len__(self) -> int:
        return len(self.documents)

    def by_hash(self, sha256: str) -> str | None:
        """The text of the trusted document (in the form) with this hash, if there is one."""
        return self._texts.get(sha256)

    def allows(self, text: str, sha256: str | None = None) -> bool:
        """Whether `text` is a trusted document (see the module's doc); `sha256` when the caller has it already."""
        sha256 = sha256 or sha256_hex(text)
        if sha256 in self._texts:
            return True
        verdict = self._verdicts.get(sha256)
        if verdict is None:
            verdict = self._verdicts[sha256] = self._matches(text)
            if len(self._verdicts) > _VERDICTS:
                self._verdicts.popitem(last=False)
        return verdict

    def _matches(self, text: str) -> bool:
        try:
            document = parse(text, no_location=True, max_tokens=MAX_TOKENS)
        except (GraphQLError, RecursionError):
            return False
        form = canonical(document)
        return form in self._canonical or self._is_batch(document, form)

    def _is_batch(self, document: DocumentNode, form: str) -> bool:
        """The admin's batch of a trusted document, rebuilt for the same count and compared whole."""
        definitions = document.definitions
        if len(definitions) != 1 or not isinstance(definitions[0], OperationDefinitionNode):
            return False
        operation = definitions[0]
        name = operation.name.value if operation.name else ""
        count = len(operation.selection_set.selections)
        if not name.endswith("Batch") or not 1 <= count <= MAX_BATCH_ITEMS:
            return False
        for source in self._by_operation.get(name.removesuffix("Batch"), ()):
            batch = batch_document(source, count)
            if batch is not None and canonical(batch) == form:
                return True
        return False
