"use client";
/**
 * Derived segments: segment chips dragged into nested AND / OR groups, each group or chip
 * negatable (NOT); the expression text below is editable and stays in sync with the groups
 * (through lib/segments' parser and formatter). Keyboard: chips are dnd-kit keyboard draggables,
 * and every action also has a plain button.
 */
import { useId, useMemo, useState } from "react";
import {
  DndContext,
  DragOverlay,
  KeyboardSensor,
  PointerSensor,
  closestCenter,
  pointerWithin,
  useDraggable,
  useDroppable,
  useSensor,
  useSensors,
  type Announcements,
  type CollisionDetection,
  type DragEndEvent,
} from "@dnd-kit/core";
import { sortableKeyboardCoordinates } from "@dnd-kit/sortable";
import { Badge, Button, Input, Select, Textarea, cx } from "@/components/ui";
import { expressionWithNames } from "../format";
import { addToGroup, mapTree, moveItem, newKey, type ExprGroup, type ExprItem } from "./model";

export interface ChipSegment {
  id: string;
  name: string;
  type: "INDEPENDENT" | "DERIVED";
  active: boolean;
}

export interface ExpressionEditorProps {
  root: ExprGroup;
  text: string;
  segments: ChipSegment[];
  /** The segment being edited (not offered as a chip). */
  selfId: string | null;
  onTreeChange(root: ExprGroup): void;
  onTextChange(text: string): void;
  /** Syntax error of the text as typed (the groups keep the last valid version). */
  syntaxError: { message: string; position: number } | null;
  /** Unknown ids, self-reference, cycle, or the server's message for `logicalExpression`. */
  error?: string;
  unknownIds: string[];
  disabled?: boolean;
}

/** Of the droppables under the pointer, the innermost (smallest) group; by keyboard, the closest. */
const innermost: CollisionDetection = (args) => {
  const within = pointerWithin(args);
  if (within.length === 0) return closestCenter(args);
  const area = (id: string | number) => {
    const r = args.droppableRects.get(id);
    return r ? r.width * r.height : Infinity;
  };
  return [...within].sort((a, b) => area(a.id) - area(b.id));
};

export function ExpressionEditor(props: ExpressionEditorProps) {
  const { root, text, segments, selfId, onTreeChange, onTextChange, syntaxError, error, unknownIds, disabled } = props;
  const [filter, setFilter] = useState("");
  const [dragging, setDragging] = useState<string | null>(null);
  const dndId = useId();
  const [picked, setPicked] = useState<Record<string, string>>({});
  const names = useMemo(() => new Map(segments.map((s) => [s.id, s.name])), [segments]);
  const offered = segments.filter((s) => s.id !== selfId && s.name.toLowerCase().includes(filter.trim().toLowerCase()));
  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 4 } }),
    useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }),
  );

  const leaf = (segmentId: string): ExprItem => ({ kind: "segment", key: newKey("seg"), segmentId, negated: false });
  const groupLabel = (key: string) => (key === "root" ? "the top group" : `group ${groupNumber(root, key)}`);
  const dragName = (id: string | number) => {
    const s = String(id);
    if (s.startsWith("chip:")) return `segment ${names.get(s.slice(5)) ?? s.slice(5)}`;
    if (s.startsWith("item:")) return "the chip";
    return s;
  };
  const announcements: Announcements = {
    onDragStart: ({ active }) => `Picked up ${dragName(active.id)}. Arrow keys move it between groups, Space drops it, Escape cancels.`,
    onDragOver: ({ active, over }) => `${dragName(active.id)} is over ${over ? groupLabel(String(over.id).slice(6)) : "no group"}.`,
    onDragEnd: ({ active, over }) => (over ? `Dropped ${dragName(active.id)} into ${groupLabel(String(over.id).slice(6))}.` : `${dragName(active.id)} was not dropped.`),
    onDragCancel: ({ active }) => `Cancelled. ${dragName(active.id)} was not moved.`,
  };

  const onDragEnd = ({ active, over }: DragEndEvent) => {
    setDragging(null);
    if (!over || !String(over.id).startsWith("group:")) return;
    const groupKey = String(over.id).slice(6);
    const a = String(active.id);
    if (a.startsWith("chip:")) onTreeChange(addToGroup(root, groupKey, leaf(a.slice(5))));
    else if (a.startsWith("item:")) onTreeChange(moveItem(root, a.slice(5), groupKey));
  };

  const addGroup = (groupKey: string, op: "AND" | "OR") =>
    onTreeChange(addToGroup(root, groupKey, { kind: "group", key: newKey("grp"), op, negated: false, children: [] }));
  const update = (key: string, fn: (i: ExprItem) => ExprItem | null) => onTreeChange(mapTree(root, key, fn) as ExprGroup);

  const draggingSegment = dragging?.startsWith("chip:") ? names.get(dragging.slice(5)) : null;

  return (
    <DndContext
      id={dndId}
      sensors={sensors}
      collisionDetection={innermost}
      onDragStart={(e) => setDragging(String(e.active.id))}
      onDragEnd={onDragEnd}
      onDragCancel={() => setDragging(null)}
      accessibility={{
        announcements,
        screenReaderInstructions: {
          draggable: "To pick up a segment chip, press Space or Enter. Use the arrow keys to move it over a group, Space or Enter to drop it, Escape to cancel.",
        },
      }}
    >
      <div className="grid gap-4 lg:grid-cols-[14rem_minmax(0,1fr)]">
        <section aria-labelledby="chips-title" className="rounded-lg border border-slate-200 bg-slate-50 p-3">
          <h3 id="chips-title" className="text-sm font-semibold text-slate-900">
            Segments
          </h3>
          <p className="mb-2 mt-0.5 text-xs text-slate-600">Drag a segment into a group.</p>
          <label htmlFor="chip-filter" className="sr-only">
            Find a segment
          </label>
          <Input id="chip-filter" type="search" placeholder="Find a segment" value={filter} onChange={(e) => setFilter(e.target.value)} className="mb-2" />
          {offered.length === 0 ? (
            <p className="py-4 text-center text-xs text-slate-600">{segments.length === 0 ? "No segments to combine yet." : "No segment matches."}</p>
          ) : (
            <ul className="flex max-h-80 flex-wrap gap-2 overflow-y-auto lg:flex-col lg:flex-nowrap">
              {offered.map((s) => (
                <li key={s.id}>
                  <Chip id={`chip:${s.id}`} label={s.name} sub={s.type === "DERIVED" ? "derived" : s.active ? undefined : "inactive"} disabled={disabled} />
                </li>
              ))}
            </ul>
          )}
        </section>

        <div className="min-w-0 space-y-4">
          <GroupBox
            group={root}
            depth={0}
            names={names}
            unknownIds={unknownIds}
            segments={segments.filter((s) => s.id !== selfId)}
            picked={picked}
            setPicked={setPicked}
            disabled={disabled}
            onAdd={(groupKey, segmentId) => onTreeChange(addToGroup(root, groupKey, leaf(segmentId)))}
            onAddGroup={addGroup}
            onUpdate={update}
            root={root}
          />

          <div>
            <label htmlFor="expression-text" className="mb-1 block text-sm font-medium text-slate-800">
              Expression
            </label>
            <Textarea
              id="expression-text"
              rows={3}
              spellCheck={false}
              value={text}
              disabled={disabled}
              aria-invalid={syntaxError || error ? true : undefined}
              aria-describedby={["expression-hint", syntaxError || error ? "expression-error" : ""].filter(Boolean).join(" ")}
              onChange={(e) => onTextChange(e.target.value)}
            />
            <p id="expression-hint" className="mt-1 text-xs text-slate-600">
              Segment ids with AND, OR, NOT and parentheses. Edit here or in the groups above: both stay in sync.
            </p>
            {syntaxError || error ? (
              <p id="expression-error" role="alert" className="mt-1 text-xs font-medium text-red-700">
                {syntaxError ? `${syntaxError.message}. The groups show the last valid expression.` : error}
              </p>
            ) : null}
            {text.trim() && !syntaxError ? (
              <p className="mt-2 rounded-md bg-slate-50 px-3 py-2 text-sm text-slate-800">
                <span className="font-medium">Reads as: </span>
                {expressionWithNames(text, names)}
              </p>
            ) : null}
          </div>
        </div>
      </div>
      <DragOverlay dropAnimation={null}>
        {draggingSegment ? <div className="rounded-full border border-indigo-300 bg-white px-3 py-1 text-sm font-medium text-indigo-800 shadow-lg">{draggingSegment}</div> : null}
      </DragOverlay>
    </DndContext>
  );
}

function groupNumber(root: ExprGroup, key: string): number {
  let n = 0;
  let found = 0;
  const walk = (i: ExprItem) => {
    if (i.kind !== "group") return;
    if (i.key !== "root") n++;
    if (i.key === key) found = n;
    i.children.forEach(walk);
  };
  walk(root);
  return found;
}

function Chip({ id, label, sub, disabled }: { id: string; label: string; sub?: string; disabled?: boolean }) {
  const { attributes, listeners, setNodeRef, isDragging } = useDraggable({ id, disabled });
  return (
    <div
      ref={setNodeRef}
      {...attributes}
      {...listeners}
      aria-label={`Segment ${label}${sub ? ` (${sub})` : ""}: drag into a group`}
      className={cx(
        "inline-flex max-w-full cursor-grab touch-none select-none items-center gap-1.5 rounded-full border border-slate-300 bg-white px-3 py-1 text-sm font-medium text-slate-900 shadow-sm",
        "hover:border-indigo-400 focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-indigo-600",
        isDragging && "opacity-40",
      )}
    >
      <span className="truncate">{label}</span>
      {sub ? <span className="text-xs font-normal text-slate-600">{sub}</span> : null}
    </div>
  );
}

interface GroupBoxProps {
  group: ExprGroup;
  root: ExprGroup;
  depth: number;
  names: ReadonlyMap<string, string>;
  unknownIds: string[];
  segments: ChipSegment[];
  picked: Record<string, string>;
  setPicked(p: Record<string, string>): void;
  disabled?: boolean;
  onAdd(groupKey: string, segmentId: string): void;
  onAddGroup(groupKey: string, op: "AND" | "OR"): void;
  onUpdate(key: string, fn: (i: ExprItem) => ExprItem | null): void;
}

function GroupBox(props: GroupBoxProps) {
  const { group, root, depth, names, unknownIds, segments, picked, setPicked, disabled, onAdd, onAddGroup, onUpdate } = props;
  const { setNodeRef, isOver } = useDroppable({ id: `group:${group.key}` });
  const title = group.key === "root" ? "Top group" : `Group ${groupNumber(root, group.key)}`;
  const selectId = `add-to-${group.key}`;
  const choice = picked[group.key] ?? "";
  return (
    <section
      ref={setNodeRef}
      aria-label={title}
      className={cx(
        "rounded-lg border-2 p-3 transition-colors",
        isOver ? "border-indigo-500 bg-indigo-50/60" : group.negated ? "border-amber-300 bg-amber-50/40" : depth === 0 ? "border-dashed border-slate-300 bg-white" : "border-slate-200 bg-slate-50/60",
      )}
    >
      <div className="mb-2 flex flex-wrap items-center gap-2">
        <span className="text-sm font-semibold text-slate-900">{title}</span>
        <label className="sr-only" htmlFor={`op-${group.key}`}>
          {title} combines with
        </label>
        <div className="w-36">
          <Select id={`op-${group.key}`} className="py-1 text-xs" value={group.op} disabled={disabled} onChange={(e) => onUpdate(group.key, (g) => ({ ...g, op: e.target.value as "AND" | "OR" }) as ExprItem)}>
          <option value="AND">all of (AND)</option>
          <option value="OR">any of (OR)</option>
        </Select>
        </div>
        <label className="inline-flex items-center gap-1 text-xs font-medium text-slate-800">
          <input type="checkbox" className="h-4 w-4 rounded border-slate-300 accent-amber-600" checked={group.negated} disabled={disabled} onChange={(e) => onUpdate(group.key, (g) => ({ ...g, negated: e.target.checked }))} />
          NOT
        </label>
        {group.key !== "root" ? (
          <Button variant="ghost" size="sm" className="ml-auto" aria-label={`Remove ${title.toLowerCase()}`} disabled={disabled} onClick={() => onUpdate(group.key, () => null)}>
            Remove
          </Button>
        ) : null}
      </div>

      {group.children.length === 0 ? (
        <p className="rounded-md border border-dashed border-slate-300 px-3 py-4 text-center text-sm text-slate-600">Drop segments here.</p>
      ) : (
        <ul className="space-y-2">
          {group.children.map((child, i) => (
            <li key={child.key} className="flex items-start gap-2">
              {i > 0 ? <span className="mt-1.5 w-8 shrink-0 text-center text-[11px] font-bold text-slate-600">{group.op}</span> : <span className="w-8 shrink-0" />}
              <div className="min-w-0 flex-1">
                {child.kind === "segment" ? (
                  <PlacedChip item={child} name={names.get(child.segmentId)} unknown={unknownIds.includes(child.segmentId)} disabled={disabled} onUpdate={onUpdate} />
                ) : (
                  <GroupBox {...props} group={child} depth={depth + 1} />
                )}
              </div>
            </li>
          ))}
        </ul>
      )}

      <div className="mt-3 flex flex-wrap items-center gap-2 border-t border-slate-100 pt-3">
        <label htmlFor={selectId} className="sr-only">
          Segment to add to {title.toLowerCase()}
        </label>
        <div className="w-56 max-w-full">
          <Select id={selectId} className="py-1 text-xs" value={choice} disabled={disabled} onChange={(e) => setPicked({ ...picked, [group.key]: e.target.value })}>
          <option value="">Choose a segment…</option>
          {segments.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
        </Select>
        </div>
        <Button
          variant="secondary"
          size="sm"
          disabled={disabled || !choice}
          onClick={() => {
            onAdd(group.key, choice);
            setPicked({ ...picked, [group.key]: "" });
          }}
        >
          Add to {title.toLowerCase()}
        </Button>
        <Button variant="ghost" size="sm" disabled={disabled} onClick={() => onAddGroup(group.key, "AND")}>
          + AND group
        </Button>
        <Button variant="ghost" size="sm" disabled={disabled} onClick={() => onAddGroup(group.key, "OR")}>
          + OR group
        </Button>
      </div>
    </section>
  );
}

function PlacedChip({ item, name, unknown, disabled, onUpdate }: { item: Extract<ExprItem, { kind: "segment" }>; name?: string; unknown: boolean; disabled?: boolean; onUpdate: GroupBoxProps["onUpdate"] }) {
  const { attributes, listeners, setNodeRef, isDragging } = useDraggable({ id: `item:${item.key}`, disabled });
  const label = name ?? `Unknown segment ${item.segmentId.slice(0, 8)}…`;
  return (
    <div ref={setNodeRef} className={cx("flex flex-wrap items-center gap-2 rounded-md border bg-white px-2 py-1.5", unknown ? "border-red-300" : "border-slate-200", isDragging && "opacity-40")}>
      <button
        type="button"
        {...attributes}
        {...listeners}
        aria-label={`Move ${label} to another group`}
        className="cursor-grab touch-none rounded p-1 text-slate-500 hover:bg-slate-100 focus-visible:outline-2 focus-visible:outline-indigo-600"
      >
        <svg aria-hidden width="12" height="12" viewBox="0 0 14 14" className="fill-current">
          {[3, 7, 11].flatMap((y) => [4, 10].map((x) => <circle key={`${x}-${y}`} cx={x} cy={y} r={1.3} />))}
        </svg>
      </button>
      {item.negated ? <Badge tone="amber">NOT</Badge> : null}
      <span className={cx("min-w-0 truncate text-sm font-medium", unknown ? "text-red-800" : "text-slate-900")}>{label}</span>
      {unknown ? <Badge tone="red">unknown id</Badge> : null}
      <span className="ml-auto flex items-center gap-1">
        <label className="inline-flex items-center gap-1 text-xs text-slate-800">
          <input type="checkbox" className="h-4 w-4 accent-amber-600" checked={item.negated} disabled={disabled} onChange={(e) => onUpdate(item.key, (i) => ({ ...i, negated: e.target.checked }))} aria-label={`NOT ${label}`} />
          NOT
        </label>
        <Button variant="ghost" size="sm" aria-label={`Remove ${label}`} disabled={disabled} onClick={() => onUpdate(item.key, () => null)}>
          Remove
        </Button>
      </span>
    </div>
  );
}
