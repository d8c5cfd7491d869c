"""An Obra-style natural-language command REPL, instrumented with obra-monitor.

    obra-monitor repl [--config FILE] [--path LOG]

Every line that monitoring adds is marked `# <- obra-monitor`: about twenty,
in `InteractiveMode` and `Orchestrator._run_implementer` below. The rest is
a stand-in for the host's own code: a rule-based parser instead of Obra's LLM
pipeline (same `ParsedIntent` shape: intent, per-stage confidences, an
operation context, validation), and an in-memory store of projects, epics,
stories, tasks, subtasks and milestones instead of Obra's StateManager.

The simulator behind `obra-monitor demo` reuses the types defined here.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

from obra_monitor.config import CONFIG_ENV, SECTION, read_config_file, section_of, settings_from_mapping
from obra_monitor import (  # <- obra-monitor
    Stage,
    generate_session_id,
    get_production_logger,
    initialize_production_logger,
)

PROMPT = "obra> "
EXIT_WORDS = ("exit", "quit")
SLASH_COMMANDS = ("/help", "/status", "/history")


# -- the host's types (shaped like Obra's) --------------------------------------------------

class OperationType(Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    QUERY = "query"


class EntityType(Enum):
    PROJECT = "project"
    EPIC = "epic"
    STORY = "story"
    TASK = "task"
    SUBTASK = "subtask"
    MILESTONE = "milestone"

    @property
    def plural(self) -> str:
        return "stories" if self is EntityType.STORY else f"{self.value}s"


@dataclass
class OperationContext:
    operation: OperationType
    entity_type: EntityType | None
    identifier: int | str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedIntent:
    intent_type: str  # COMMAND or QUESTION
    operation_context: OperationContext | None
    original_message: str
    confidence: float
    metadata: dict[str, Any] = field(default_factory=dict)


class ObraError(Exception):
    """Errors the REPL reports to the user and carries on; `recoverable` is read by the logger."""

    recoverable = True


class ValidationException(ObraError):
    pass


class EntityNotFoundError(ObraError):
    pass


# -- the NL pipeline: words -> ParsedIntent -------------------------------------------------

ALL = "__ALL__"
STATUSES = {"done": "done", "complete": "done", "completed": "done", "finished": "done",
            "in progress": "in_progress", "started": "in_progress", "blocked": "blocked",
            "todo": "todo", "open": "todo"}
_ENTITY_WORDS = {
    **{e.value: e for e in EntityType},
    **{e.plural: e for e in EntityType},
    "sub-task": EntityType.SUBTASK, "sub-tasks": EntityType.SUBTASK,
}
# verb -> (operation, operation-stage confidence): the canonical verb is surest.
_VERBS = {
    "create": (OperationType.CREATE, 1.0), "add": (OperationType.CREATE, 0.93),
    "new": (OperationType.CREATE, 0.9), "make": (OperationType.CREATE, 0.85),
    "update": (OperationType.UPDATE, 1.0), "mark": (OperationType.UPDATE, 0.95),
    "set": (OperationType.UPDATE, 0.9), "rename": (OperationType.UPDATE, 0.95),
    "complete": (OperationType.UPDATE, 0.9), "finish": (OperationType.UPDATE, 0.88),
    "run": (OperationType.UPDATE, 0.86), "execute": (OperationType.UPDATE, 0.9),
    "implement": (OperationType.UPDATE, 0.88),
    "delete": (OperationType.DELETE, 1.0), "remove": (OperationType.DELETE, 0.95),
    "show": (OperationType.QUERY, 1.0), "list": (OperationType.QUERY, 0.98),
    "get": (OperationType.QUERY, 0.9), "display": (OperationType.QUERY, 0.92),
    "find": (OperationType.QUERY, 0.88),
}
_QUESTION_WORDS = ("what", "how", "why", "who", "when", "where", "which", "can", "could",
                   "does", "do", "is", "are", "should", "explain")
_ID = r"#?(-?\d+)"
_PARENT = rf"(?:\s+(?:in|under|for|to|of)\s+(?:the\s+)?([\w-]+)\s+{_ID})?"
_CREATE = re.compile(
    rf"^(?:an?\s+|the\s+|new\s+)*([\w-]+)(?:\s*:|\s+(?:called|named|for)\b)?\s*(.*?){_PARENT}$", re.I
)
_STATUS_CHANGE = re.compile(
    rf"^([\w-]+)\s+{_ID}\s+(?:status\s+)?(?:to\s+|as\s+)?(done|complete|completed|finished|"
    r"in progress|started|blocked|todo|open|[\w-]+)$", re.I
)
_RENAME = re.compile(rf"^([\w-]+)\s+{_ID}\s+(?:to|as)\s+(.+)$", re.I)
_ONE = re.compile(rf"^([\w-]+)\s+{_ID}$", re.I)
_DELETE = re.compile(rf"^(?:all\s+(?:the\s+)?)?([\w-]+)(?:\s+{_ID}(?:\s*-\s*(\d+))?)?$", re.I)
_QUERY = re.compile(
    rf"^(?:me\s+)?(?:all\s+)?(?:the\s+)?(?:(open|active|blocked|done)\s+)?([\w-]+)(?:\s+{_ID}(?:\s*-\s*(\d+))?)?{_PARENT}$", re.I
)


class RuleBasedNLProcessor:
    """Stand-in for Obra's NL pipeline: intent -> operation -> entity -> params -> validation."""

    def process(self, text: str) -> ParsedIntent:
        words = text.strip().rstrip(".!")
        verb, _, rest = words.partition(" ")
        verb = verb.lower()
        if verb in ("work", "start") and rest.lower().startswith("on "):
            verb, rest = "execute", rest[3:]
        if verb in _VERBS and not words.endswith("?"):
            return self._command(text, verb, rest.strip())
        if words.endswith("?") or verb in _QUESTION_WORDS:
            return ParsedIntent("QUESTION", None, text, 0.9,
                                {"stages": {"intent": 0.9}, "validation_failed": False})
        return ParsedIntent("COMMAND", None, text, 0.2, {
            "stages": {"intent": 0.35, "operation": 0.1, "entity": 0.1, "params": 0.0},
            "validation_failed": True,
            "validation_errors": ["could not recognise a command; try /help"],
        })

    def _command(self, text: str, verb: str, rest: str) -> ParsedIntent:
        operation, operation_confidence = _VERBS[verb]
        context = OperationContext(operation, None)
        errors: list[str] = []
        entity_word, params_confidence = self._fill(context, verb, rest, errors)
        entity = _ENTITY_WORDS.get(entity_word.lower()) if entity_word else None
        context.entity_type = entity
        if entity is None:
            errors.insert(0, f"Unknown entity type {entity_word!r} (expected one of "
                             f"{', '.join(e.value for e in EntityType)})" if entity_word
                          else "Missing entity type")
        else:
            errors.extend(self._validate(context))
        entity_confidence = 0.0 if entity is None else (0.97 if entity_word.lower() == entity.value else 0.93)
        if errors:
            params_confidence = min(params_confidence, 0.5)
        stages = {"intent": 0.96, "operation": operation_confidence,
                  "entity": entity_confidence, "params": params_confidence}
        return ParsedIntent("COMMAND", context, text, round(sum(stages.values()) / 4, 3), {
            "stages": stages, "validation_failed": bool(errors), "validation_errors": errors,
        })

    def _fill(self, context: OperationContext, verb: str, rest: str, errors: list[str]) -> tuple[str, float]:
        """Read the entity word and parameters for one operation; returns (entity word, params confidence)."""
        params = context.parameters
        if context.operation is OperationType.CREATE:
            match = _CREATE.match(rest)
            if not match:
                return "", 0.3
            entity_word, title, parent, parent_id = match.groups()
            params["title"] = title.strip(" '\"")
            if parent:
                params["parent"] = (parent.lower(), int(parent_id))
            return entity_word, 0.92 if params["title"] else 0.4
        if context.operation is OperationType.UPDATE:
            if verb in ("run", "execute", "implement"):
                match = _ONE.match(rest)
                if match:
                    context.identifier = int(match.group(2))
                    params["action"] = "execute"
                    return match.group(1), 0.95
                return self._unreadable(rest, errors)
            if verb in ("complete", "finish"):
                match = _ONE.match(rest)
                if match:
                    context.identifier, params["status"] = int(match.group(2)), "done"
                    return match.group(1), 0.95
            if verb == "rename":
                match = _RENAME.match(rest)
                if match:
                    context.identifier, params["title"] = int(match.group(2)), match.group(3).strip(" '\"")
                    return match.group(1), 0.9
            match = _STATUS_CHANGE.match(rest)
            if match:
                context.identifier = int(match.group(2))
                status = STATUSES.get(match.group(3).lower())
                if status is None:
                    errors.append(f"Unknown status {match.group(3)!r} (expected done, in progress, blocked or todo)")
                params["status"] = status
                return match.group(1), 0.9
            return self._unreadable(rest, errors)
        is_query = context.operation is OperationType.QUERY
        match = (_QUERY if is_query else _DELETE).match(rest)
        if not match:
            return self._unreadable(rest, errors)
        groups = list(match.groups())
        if is_query:
            status = groups.pop(0)
            if status:
                params["status"] = STATUSES.get(status.lower(), "todo" if status.lower() == "active" else status)
        entity_word, first, last = groups[0], groups[1], groups[2]
        if rest.lower().startswith("all") and context.operation is OperationType.DELETE:
            context.identifier = ALL
        elif first is not None and last is not None:
            context.identifier = f"{int(first)}-{int(last)}"
        elif first is not None:
            context.identifier = int(first)
        elif context.operation is OperationType.DELETE:
            errors.append(f"Say which {entity_word} to delete (an id, a range like 1-5, or 'all')")
        if is_query and groups[3]:
            params["parent"] = (groups[3].lower(), int(groups[4]))
        return entity_word, 0.94

    @staticmethod
    def _unreadable(rest: str, errors: list[str]) -> tuple[str, float]:
        errors.append(f"Could not read the parameters in {rest!r}; try /help for examples")
        return rest.split(" ")[0], 0.3

    @staticmethod
    def _validate(context: OperationContext) -> list[str]:
        errors = []
        name = context.entity_type.value.capitalize()  # type: ignore[union-attr]
        identifier = context.identifier
        if isinstance(identifier, int) and identifier <= 0:
            errors.append(f"{name} ID must be positive integer, got {identifier}")
        parent = context.parameters.get("parent")
        if parent:
            parent_word, parent_id = parent
            if parent_word not in _ENTITY_WORDS:
                errors.append(f"Unknown parent entity type {parent_word!r}")
            elif parent_id <= 0:
                errors.append(f"{_ENTITY_WORDS[parent_word].value.capitalize()} ID must be positive integer, "
                              f"got {parent_id}")
        if context.operation is OperationType.CREATE and not context.parameters.get("title"):
            errors.append(f"Missing required parameter 'title' for CREATE {context.entity_type.value}")  # type: ignore[union-attr]
        return errors


# -- the orchestrator: ParsedIntent -> result dict ---------------------------------------------

@dataclass
class Item:
    id: int
    title: str
    status: str = "todo"
    parent: tuple[EntityType, int] | None = None


class Orchestrator:
    """Stand-in for Obra's orchestrator over an in-memory store."""

    def __init__(self) -> None:
        self.items: dict[EntityType, dict[int, Item]] = {entity: {} for entity in EntityType}
        self.session_id: str | None = None
        for entity, title, parent in (
            (EntityType.PROJECT, "Obra core", None), (EntityType.PROJECT, "Website", None),
            (EntityType.EPIC, "Auth module", (EntityType.PROJECT, 1)),
            (EntityType.STORY, "Login with SSO", (EntityType.EPIC, 1)),
            (EntityType.TASK, "Add OAuth callback", (EntityType.STORY, 1)),
            (EntityType.TASK, "Write login tests", (EntityType.STORY, 1)),
            (EntityType.SUBTASK, "Mock the identity provider", (EntityType.TASK, 2)),
            (EntityType.MILESTONE, "v1.8.0", (EntityType.PROJECT, 1)),
        ):
            self._add(entity, title, parent)

    def execute_nl_command(self, parsed: ParsedIntent) -> dict[str, Any]:
        context = parsed.operation_context
        assert context is not None and context.entity_type is not None
        handler = getattr(self, f"_{context.operation.value}")
        return handler(context.entity_type, context.identifier, context.parameters)

    def answer(self, question: str) -> dict[str, Any]:
        lowered = question.lower()
        for word, entity in _ENTITY_WORDS.items():
            if f"many {word}" in lowered:
                count = len(self.items[entity])
                return {"success": True, "message": f"There are {count} {entity.plural}."}
        if "story" in lowered and "task" in lowered:
            text = "A story is a user-facing piece of an epic; tasks are the steps that deliver it."
        else:
            text = "I manage projects, epics, stories, tasks, subtasks and milestones. Type /help for examples."
        return {"success": True, "message": text}

    # -- operations --

    def _create(self, entity: EntityType, _identifier: Any, params: dict[str, Any]) -> dict[str, Any]:
        parent = None
        if "parent" in params:
            parent_entity = _ENTITY_WORDS[params["parent"][0]]
            parent = (parent_entity, params["parent"][1])
            self._get(*parent)
        item = self._add(entity, params["title"], parent)
        where = f" in {parent[0].value} {parent[1]}" if parent else ""
        return {"success": True, "message": f"Created {entity.value} #{item.id} '{item.title}'{where}",
                "entities_affected": {entity.plural: 1}}

    def _update(self, entity: EntityType, identifier: Any, params: dict[str, Any]) -> dict[str, Any]:
        item = self._get(entity, identifier)
        if params.get("action") == "execute":
            return self._run_implementer(entity, item)
        if "title" in params:
            item.title = params["title"]
            return {"success": True, "message": f"Renamed {entity.value} {item.id} to '{item.title}'",
                    "entities_affected": {entity.plural: 1}}
        item.status = params["status"]
        return {"success": True, "message": f"Marked {entity.value} {item.id} {item.status.replace('_', ' ')}",
                "entities_affected": {entity.plural: 1}}

    def _delete(self, entity: EntityType, identifier: Any, _params: dict[str, Any]) -> dict[str, Any]:
        ids = self._select(entity, identifier)
        for number in ids:
            del self.items[entity][number]
        noun = entity.value if len(ids) == 1 else entity.plural
        return {"success": True, "message": f"Deleted {len(ids)} {noun}", "bulk_results": {entity.plural: ids}}

    def _query(self, entity: EntityType, identifier: Any, params: dict[str, Any]) -> dict[str, Any]:
        ids = self._select(entity, identifier) if identifier is not None else sorted(self.items[entity])
        rows = [self.items[entity][number] for number in ids]
        if "parent" in params:
            parent = (_ENTITY_WORDS[params["parent"][0]], params["parent"][1])
            self._get(*parent)
            rows = [row for row in rows if row.parent == parent]
        if "status" in params:
            rows = [row for row in rows if row.status == params["status"]]
        noun = entity.value if len(rows) == 1 else entity.plural
        return {"success": True, "message": f"Found {len(rows)} {noun}", "data": {entity.plural: rows}}

    def _run_implementer(self, entity: EntityType, item: Item) -> dict[str, Any]:
        """Hand the item to the implementer (a stand-in for Claude Code) and record the outcome."""
        logger = get_production_logger()                                                # <- obra-monitor
        prompt = f"Implement {entity.value} {item.id}: {item.title}. Run the tests when done."
        if logger and self.session_id:                                                  # <- obra-monitor
            logger.log_orch_prompt(self.session_id, item.id, "claude-code",             # <- obra-monitor
                                   len(prompt), len(prompt) // 4 + 1200)                # <- obra-monitor
        started = time.perf_counter()
        output = f"Implemented '{item.title}'; 12 tests passed."
        item.status = "done"
        if logger and self.session_id:                                                  # <- obra-monitor
            logger.log_impl_response(self.session_id, item.id, True,                    # <- obra-monitor
                                     (time.perf_counter() - started) * 1000, len(output))  # <- obra-monitor
        return {"success": True, "message": f"Implementer finished {entity.value} {item.id}: {output}",
                "entities_affected": {entity.plural: 1}}

    # -- store --

    def _add(self, entity: EntityType, title: str, parent: tuple[EntityType, int] | None) -> Item:
        table = self.items[entity]
        item = Item(max(table, default=0) + 1, title, parent=parent)
        table[item.id] = item
        return item

    def _get(self, entity: EntityType, identifier: Any) -> Item:
        item = self.items[entity].get(identifier) if isinstance(identifier, int) else None
        if item is None:
            raise EntityNotFoundError(f"{entity.value.capitalize()} {identifier} not found")
        return item

    def _select(self, entity: EntityType, identifier: Any) -> list[int]:
        table = self.items[entity]
        if identifier == ALL:
            return sorted(table)
        if isinstance(identifier, str):
            first, last = (int(part) for part in identifier.split("-"))
            return [number for number in sorted(table) if first <= number <= last]
        self._get(entity, identifier)
        return [identifier]


# -- the REPL ---------------------------------------------------------------------------------

HELP = """\
Commands (plain English):
  create epic for auth module in project 1     add task 'write docs' to story 1
  mark story 1 done      rename task 2 to login tests      run task 1 (calls the implementer)
  delete task 3          delete tasks 1-5                  delete all projects
  show projects          show tasks 1-15                   list tasks in story 1
Questions end with '?' (how many tasks are there?). Slash commands: /help /status /history.
Leave with exit, quit or Ctrl-D."""


class InteractiveMode:
    """The REPL loop, shaped like Obra's `InteractiveMode`."""

    def __init__(self, config: Mapping[str, Any], stdout: TextIO = sys.stdout) -> None:
        self.out = stdout
        self.nl_processor = RuleBasedNLProcessor()
        self.orchestrator = Orchestrator()
        self.history: list[str] = []
        self.production_logger = initialize_production_logger(config)  # <- obra-monitor
        self.session_id = generate_session_id()                         # <- obra-monitor
        self.orchestrator.session_id = self.session_id                  # <- obra-monitor (for implementer events)

    def run(self, stdin: TextIO = sys.stdin) -> int:
        interactive = stdin.isatty() and self.out.isatty()
        if interactive:
            try:
                import readline  # noqa: F401  (line editing and history at the prompt)
            except ImportError:
                pass
        self._say(self._banner())
        try:
            while True:
                try:
                    text = input(PROMPT) if interactive else stdin.readline()
                except EOFError:
                    text = ""
                except KeyboardInterrupt:
                    self._say("")
                    continue
                if not text:  # end of input
                    break
                text = text.strip()
                if text and not self.handle(text):
                    break
        finally:
            self.production_logger.close()                              # <- obra-monitor
        return 0

    def handle(self, text: str) -> bool:
        """Run one line; False when the user asked to leave."""
        self.history.append(text)
        if text.startswith("/") or text.lower() in EXIT_WORDS:
            self.production_logger.log_user_input(self.session_id, text)  # <- obra-monitor
            return self._slash_command(text.lower())
        try:
            self._natural_language(text)
        except Exception as exc:  # already logged as an error event by the turn
            self._say(f"Internal error: {type(exc).__name__}: {exc}")
        return True

    def _natural_language(self, text: str) -> None:
        with self.production_logger.turn(self.session_id, text) as turn:  # <- obra-monitor
            parsed = self.nl_processor.process(text)
            turn.nl_result(parsed)                                          # <- obra-monitor
            if parsed.intent_type == "QUESTION":
                result = self.orchestrator.answer(text)
                turn.execution_result(result)                               # <- obra-monitor
                self._say(result["message"])
                return
            problems = parsed.metadata.get("validation_errors", [])
            if parsed.operation_context is None:
                self._say(f"Sorry, I did not understand that (confidence {parsed.confidence:.2f}). Try /help.")
                return
            if problems:
                error = ValidationException("; ".join(problems))
                turn.error(error, stage=Stage.VALIDATION)                   # <- obra-monitor
                self._say(f"Invalid command: {error}")
                return
            try:
                result = self.orchestrator.execute_nl_command(parsed)
            except ObraError as exc:
                turn.error(exc)                                             # <- obra-monitor (stage: execution)
                result = {"success": False, "message": str(exc)}
            turn.execution_result(result)                                   # <- obra-monitor
            self._show(result)

    # -- output --

    def _slash_command(self, command: str) -> bool:
        if command in EXIT_WORDS:
            self._say(f"Bye. Session {self.session_id}: {len(self.history)} inputs logged.")
            return False
        if command == "/help":
            self._say(HELP)
        elif command == "/status":
            stats = self.production_logger.stats                            # <- obra-monitor
            counts = ", ".join(f"{len(table)} {entity.value if len(table) == 1 else entity.plural}"
                               for entity, table in self.orchestrator.items.items())
            self._say(f"{counts}\nsession {self.session_id}; log {self.production_logger.log_path}: "
                      f"{stats.events_written} events written, {stats.events_dropped} dropped")
        elif command == "/history":
            self._say("\n".join(f"{number:3d}  {line}" for number, line in enumerate(self.history, 1)))
        else:
            self._say(f"Unknown command {command}; try /help")
        return True

    def _show(self, result: dict[str, Any]) -> None:
        self._say(result["message"] if result["success"] else f"Failed: {result['message']}")
        for rows in (result.get("data") or {}).values():
            for row in rows:
                parent = f"  ({row.parent[0].value} {row.parent[1]})" if row.parent else ""
                self._say(f"  #{row.id:<4} {row.status:<12} {row.title}{parent}")

    def _banner(self) -> str:
        logger = self.production_logger
        where = f"logging to {logger.log_path}" if logger.enabled else "logging disabled"
        return (f"Obra-style example REPL, instrumented with obra-monitor ({where}).\n"
                f"Session {self.session_id}. Type /help for commands, exit to leave.")

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)


# -- `obra-monitor repl` ---------------------------------------------------------------------

def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "repl",
        help="an example NL command REPL instrumented with obra-monitor",
        description=(
            "An Obra-style REPL (rule-based parser, in-memory projects/epics/stories/tasks) "
            "that logs every turn through ProductionLogger. Read its source, "
            "obra_monitor/example_repl.py, for the lines to add to your own REPL: they are "
            "marked '# <- obra-monitor'. Reads commands from the terminal or from piped stdin."
        ),
    )
    parser.add_argument("--config", metavar="FILE",
                        help=f"application config file with monitoring.production_logging "
                             f"(default: ${CONFIG_ENV}, else built-in defaults)")
    parser.add_argument("--path", metavar="LOG", help="write the log here instead of the configured path")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return InteractiveMode(app_config(args.config, args.path)).run()


def app_config(config_file: str | None, path: str | None) -> dict[str, Any]:
    """The application config as the host holds it, with the log path overridden if asked."""
    config_file = config_file or os.environ.get(CONFIG_ENV)
    if not config_file:
        document: dict[str, Any] = {}
        section: dict[str, Any] = {}
    else:
        document = dict(read_config_file(config_file))
        section = dict(section_of(document, SECTION, config_file) or {})
    if path:
        section["path"] = str(Path(path).expanduser())
    settings_from_mapping(section, config_file or "config")  # a mistake is reported naming the file
    document[SECTION[0]] = {**(document.get(SECTION[0]) or {}), SECTION[1]: section}
    return document
