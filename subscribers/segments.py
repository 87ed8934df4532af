"""Segment rules: JSON in the database, pydantic models in memory, SQLAlchemy expressions in SQL.

A rule is a JSON object with a ``type``::

    {"type": "all", "rules": [
        {"type": "status", "in": ["active"]},
        {"type": "topics", "any": ["europe", "climate"]},
        {"type": "not", "rule": {"type": "attribute", "key": "plan", "equals": "free"}},
        {"type": "created", "within_days": 30}]}

Every rule type is a pydantic model with a :meth:`Rule.compile` method that returns a
boolean SQLAlchemy expression over :class:`~subscribers.model.Subscriber` (bound parameters
only, never SQL text). Rule types live in a registry rather than a closed union so that the
tracking package can add engagement rules ("opened in the last N days") with
:func:`register_rule` without this module knowing about campaigns; combinators validate
their children through the same registry.

A campaign targets an ordered list of segments and each subscriber gets the variant of the
first segment that matches: :func:`first_matching_segment` is that choice as one SQL
``CASE``, and :func:`recipients_by_segment` the ``SELECT`` a campaign can feed to
``INSERT … SELECT``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, ClassVar, Literal, TypeVar, cast, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Subquery,
    Table,
    and_,
    case,
    exists,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import JSONB, array
from sqlalchemy.types import Integer, Text

from newsletter.errors import InvalidInput
from newsletter.render.options import NarrativeDisplay
from subscribers.fields import ATTRIBUTE_KEY
from subscribers.model import Subscriber, SubscriberStatus
from subscribers.suppression import mailable

Scalar = str | bool | int | float


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What compiling needs besides the rule: the SQL dialect, 'now' for relative dates, and
    the names of the tables the query has joined to the subscribers (:func:`joined_for`)."""

    dialect: str
    now: datetime
    joined: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class OuterJoin:
    """A table a rule reads that holds at most one row per subscriber.

    A query that evaluates rules on every subscriber (the freeze, the audience counts)
    LEFT JOINs such a table once, in one hash join, and compiles the rules with its name in
    :attr:`RuleContext.joined`: a correlated ``EXISTS`` inside the first-match ``CASE``
    cannot become a join, and would probe the table's index once per subscriber.
    """

    table: Table
    on: ColumnElement[bool]


class Rule(BaseModel):
    """Base of every rule type; a subclass declares ``type: Literal["name"]`` and compiles."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type_name: ClassVar[str]

    def compile(self, ctx: RuleContext) -> ColumnElement[bool]:
        raise NotImplementedError

    def outer_joins(self) -> tuple[OuterJoin, ...]:
        """The tables besides ``subscribers`` this rule reads row by row (:class:`OuterJoin`)."""
        return ()


_REGISTRY: dict[str, type[Rule]] = {}
R = TypeVar("R", bound=type[Rule])


def register_rule(cls: R) -> R:
    """Make a rule type known to :func:`parse_rule` (usable as a class decorator)."""
    (name,) = get_args(cast(type[BaseModel], cls).model_fields["type"].annotation)
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"rule type {name!r} is already registered")
    cls.type_name = name
    _REGISTRY[name] = cls
    return cls


def rule_types() -> list[str]:
    return sorted(_REGISTRY)


def _validate_rule(value: Any) -> Rule:
    if isinstance(value, Rule):
        return value
    if not isinstance(value, dict):
        raise ValueError("a rule must be a JSON object with a 'type'")
    name = value.get("type")
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown rule type {name!r} (known: {', '.join(rule_types())})")
    try:
        return cls.model_validate(value)
    except ValidationError as exc:
        raise ValueError(_describe(exc, prefix=f"{name} rule")) from None


def dump_rule(rule: Rule) -> dict[str, Any]:
    """The JSON form of a rule, as stored."""
    return rule.model_dump(mode="json", by_alias=True, exclude_none=True)


NestedRule = Annotated[
    Rule,
    PlainValidator(_validate_rule),
    PlainSerializer(dump_rule),
    WithJsonSchema({"type": "object", "required": ["type"]}),
]


def _describe(exc: ValidationError, prefix: str) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{prefix}{'.' + where if where else ''}: {message}")
    return "; ".join(parts)


def parse_rule(value: Any, field: str = "rule") -> Rule:
    """A rule from its JSON form; :class:`InvalidInput` naming what is wrong and where."""
    try:
        return _validate_rule(value)
    except ValueError as exc:
        raise InvalidInput(field, str(exc)) from None


# --- subscriber fields -------------------------------------------------------------------


@register_rule
class Everyone(Rule):
    """Matches every subscriber (the catch-all last segment)."""

    type: Literal["everyone"] = "everyone"

    def compile(self, ctx: RuleContext) -> ColumnElement[bool]:
        return true()


@register_rule
class StatusRule(Rule):
    type: Literal["status"] = "status"
    in_: list[SubscriberStatus] = Field(alias="in", min_length=1)

    def compile(self, ctx: RuleContext) -> ColumnElement[bool]:
        return Subscriber.status.in_(self.in_)


@register_rule
class NarrativesRule(Rule):
    type: Literal["narratives"] = "narratives"
    in_: list[NarrativeDisplay] = Field(alias="in", min_length=1)

    def compile(self, ctx: RuleContext) -> ColumnElement[bool]:
        return Subscriber.narratives.in_(self.in_)


@register_rule
class SourceRule(Rule):
    type: Literal["source"] = "source"
    in_: list[Annotated[str, Field(max_length=100)]] = Field(alias="in", min_length=1)

    def compile(self, ctx: RuleContext) -> ColumnElement[bool]:
        return Subscriber.source.in_(self.in_)


_Topic = Annotated[str, Field(min_length=1, max_length=60)]


@register_rule
class TopicsRule(Rule):
    """Subscribers who chose ``any`` of these topics, or ``all`` of them."""

    type: Literal["topics"] = "topics"
    any: list[_Topic] | None = Field(default=None, min_length=1, max_length=50)
    all: list[_Topic] | None = Field(default=None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _one_of(self) -> TopicsRule:
        if (self.any is None) == (self.all is None):
            raise ValueError("give exactly one of 'any' or 'all'")
        return self

    def compile(self, ctx: RuleContext) -> ColumnElement[bool]:
        wanted = [topic.strip().lower() for topic in (self.any or self.all or [])]
        if ctx.dialect == "postgresql":
            topics = type_coerce(Subscriber.topics, JSONB)
            values = array(wanted, type_=Text)
            test = topics.has_any(values) if self.any else topics.has_all(values)
            return cast(ColumnElement[bool], test)
        checks = [_sqlite_array_contains(Subscriber.topics, [topic]) for topic in wanted]
        return _sqlite_array_contains(Subscriber.topics, wanted) if self.any else and_(*checks)


def _sqlite_array_contains(array_column: Any, values: list[str]) -> ColumnElement[bool]:
    elements = func.json_each(array_column).table_valued("value")
    return exists(select(literal(1)).select_from(elements).where(elements.c.value.in_(values)))


class _DateRule(Rule):
    """A time window: ``within_days`` (the last N days), ``older_than_days``, ``after``, ``before``.

    Relative windows are resolved against the context's ``now`` when compiled, so a stored
    rule "created in the last 30 days" means the 30 days before each send.
    """

    within_days: int | None = Field(default=None, ge=1, le=36_500)
    older_than_days: int | None = Field(default=None, ge=0, le=36_500)
    after: date | datetime | None = None
    before: date | datetime | None = None

    column_name: ClassVar[str]

    @model_validator(mode="after")
    def _something(self) -> _DateRule:
        if all(
            v is None for v in (self.within_days, self.older_than_days, self.after, self.before)
        ):
            raise ValueError("give within_days, older_than_days, after or before")
        return self

    def compile(self, ctx: RuleContext) -> ColumnElement[bool]:
        value = getattr(Subscriber, self.column_name)
        conditions: list[ColumnElement[bool]] = []
        if self.within_days is not None:
            conditions.append(value >= ctx.now - timedelta(days=self.within_days))
        if self.older_than_days is not None:
            conditions.append(value < ctx.now - timedelta(days=self.older_than_days))
        if self.after is not None:
            conditions.append(value >= _as_utc(self.after))
        if self.before is not None:
            conditions.append(value < _as_utc(self.before))
        return and_(*conditions)


def _as_utc(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(0), tzinfo=UTC)


@register_rule
class CreatedRule(_DateRule):
    type: Literal["created"] = "created"
    column_name: ClassVar[str] = "created_at"


@register_rule
class ConfirmedRule(_DateRule):
    type: Literal["confirmed"] = "confirmed"
    column_name: ClassVar[str] = "confirmed_at"


_AttributeKey = Annotated[str, Field(pattern=ATTRIBUTE_KEY.pattern)]
_ScalarValue = Annotated[
    StrictStr | StrictBool | StrictInt | StrictFloat, Field(union_mode="left_to_right")
]


@register_rule
class AttributeRule(Rule):
    """A custom attribute ``equals`` a value, is ``in`` a list, or ``exists`` (or not)."""

    type: Literal["attribute"] = "attribute"
    key: _AttributeKey
    equals: _ScalarValue | None = None
    in_: list[_ScalarValue] | None = Field(default=None, alias="in", min_length=1, max_length=100)
    exists: bool | None = None

    @model_validator(mode="after")
    def _one_test(self) -> AttributeRule:
        given = [v for v in (self.equals, self.in_, self.exists) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'equals', 'in' or 'exists'")
        return self

    def compile(self, ctx: RuleContext) -> ColumnElement[bool]:
        if self.exists is not None:
            present = _attribute_present(ctx, self.key)
            return present if self.exists else not_(present)
        values = [self.equals] if self.equals is not None else list(self.in_ or [])
        return or_(*[_attribute_equals(ctx, self.key, value) for value in values])


def _attribute_present(ctx: RuleContext, key: str) -> ColumnElement[bool]:
    if ctx.dialect == "postgresql":
        return cast(ColumnElement[bool], type_coerce(Subscriber.attributes, JSONB).has_key(key))
    return func.json_type(Subscriber.attributes, f'$."{key}"').is_not(None)


def _attribute_equals(ctx: RuleContext, key: str, value: Scalar) -> ColumnElement[bool]:
    """JSON equality: the string "1" does not equal the number 1, nor ``true`` the number 1."""
    if ctx.dialect == "postgresql":
        attributes = type_coerce(Subscriber.attributes, JSONB)
        return attributes[key] == type_coerce(value, JSONB)
    path = f'$."{key}"'
    kind = func.json_type(Subscriber.attributes, path)
    if isinstance(value, bool):
        return kind == ("true" if value else "false")
    extracted = func.json_extract(Subscriber.attributes, path)
    if isinstance(value, str):
        return and_(kind == "text", extracted == value)
    return and_(kind.in_(("integer", "real")), extracted == value)


# --- combinators -------------------------------------------------------------------------


@register_rule
class AllOf(Rule):
    type: Literal["all"] = "all"
    rules: list[NestedRule] = Field(min_length=1, max_length=50)

    def compile(self, ctx: RuleContext) -> ColumnElement[bool]:
        return and_(*[rule.compile(ctx) for rule in self.rules])

    def outer_joins(self) -> tuple[OuterJoin, ...]:
        return tuple(join for rule in self.rules for join in rule.outer_joins())


@register_rule
class AnyOf(Rule):
    type: Literal["any"] = "any"
    rules: list[NestedRule] = Field(min_length=1, max_length=50)

    def compile(self, ctx: RuleContext) -> ColumnElement[bool]:
        return or_(*[rule.compile(ctx) for rule in self.rules])

    def outer_joins(self) -> tuple[OuterJoin, ...]:
        return tuple(join for rule in self.rules for join in rule.outer_joins())


@register_rule
class Not(Rule):
    type: Literal["not"] = "not"
    rule: NestedRule

    def compile(self, ctx: RuleContext) -> ColumnElement[bool]:
        return not_(self.rule.compile(ctx))

    def outer_joins(self) -> tuple[OuterJoin, ...]:
        return self.rule.outer_joins()


# --- using rules -------------------------------------------------------------------------


def first_matching_segment(
    segments: Sequence[tuple[int, Rule]], ctx: RuleContext
) -> ColumnElement[int | None]:
    """SQL ``CASE``: the id of the first segment (in order) whose rule matches, else NULL."""
    if not segments:
        return cast(ColumnElement[int | None], null())
    whens = [(rule.compile(ctx), literal(segment_id, Integer)) for segment_id, rule in segments]
    return case(*whens, else_=null())


def joined_for(rules: Iterable[Rule], ctx: RuleContext) -> tuple[FromClause, RuleContext]:
    """The subscribers LEFT JOINed to every table ``rules`` read row by row (once each), and
    the context to compile the rules against that join."""
    source: FromClause = cast(Table, Subscriber.__table__)
    joined: set[str] = set(ctx.joined)
    for rule in rules:
        for join in rule.outer_joins():
            if join.table.name not in joined:
                joined.add(join.table.name)
                source = source.outerjoin(join.table, join.on)
    return source, replace(ctx, joined=frozenset(joined))


def recipients_by_segment(
    segments: Sequence[tuple[int, Rule]], ctx: RuleContext
) -> Select[tuple[int, int]]:
    """``SELECT subscriber_id, segment_id`` for every mailable subscriber some segment takes.

    Feed it to ``insert(…).from_select(["subscriber_id", "segment_id"], …)`` to queue a
    campaign's deliveries in one statement.
    """
    inner = _assigned(segments, ctx)
    return select(inner.c.subscriber_id, inner.c.segment_id).where(inner.c.segment_id.is_not(None))


def recipients_with_choices(
    segments: Sequence[tuple[int, Rule]], ctx: RuleContext
) -> Select[tuple[int, int, str, str, str | None, str | None]]:
    """:func:`recipients_by_segment` plus each reader's own choices: ``narratives`` and
    ``topics_key``, their topics as the database renders the column as text ('' for none),
    and their ``time_zone`` (NULL: the default zone); and their ``email_hash``.

    Grouping by the last three columns gives the combinations present in an audience; the
    same expressions joined back assign each reader the variant of their combination.
    """
    inner = _assigned(segments, ctx)
    return select(
        inner.c.subscriber_id,
        inner.c.segment_id,
        inner.c.narratives,
        inner.c.topics_key,
        inner.c.time_zone,
        inner.c.email_hash,
    ).where(inner.c.segment_id.is_not(None))


def _assigned(segments: Sequence[tuple[int, Rule]], ctx: RuleContext) -> Subquery:
    """Every mailable subscriber with the first matching segment (NULL: none) and choices."""
    source, ctx = joined_for((rule for _, rule in segments), ctx)
    return (
        select(
            Subscriber.id.label("subscriber_id"),
            first_matching_segment(segments, ctx).label("segment_id"),
            func.coalesce(Subscriber.narratives, "all").label("narratives"),
            func.coalesce(sql_cast(Subscriber.topics, Text), "").label("topics_key"),
            Subscriber.time_zone.label("time_zone"),
            Subscriber.email_hash.label("email_hash"),
        )
        .select_from(source)
        .where(mailable())
        .subquery("assigned")
    )
