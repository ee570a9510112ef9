"use client";
/**
 * Independent segments: rule blocks dragged from a palette into the segment, reordered, edited
 * inline. Everything works by keyboard too: palette blocks and drag handles are dnd-kit
 * keyboard draggables (Space to pick up, arrows to move, Space to drop, Escape to cancel), and
 * every block has a plain "Add" button.
 */
import { useId, useState } from "react";
import {
  DndContext,
  DragOverlay,
  KeyboardSensor,
  PointerSensor,
  closestCenter,
  rectIntersection,
  useDraggable,
  useDroppable,
  useSensor,
  useSensors,
  type Announcements,
  type CollisionDetection,
  type DragEndEvent,
  type KeyboardCoordinateGetter,
  type DragStartEvent,
} from "@dnd-kit/core";
import { SortableContext, arrayMove, sortableKeyboardCoordinates, useSortable, verticalListSortingStrategy } from "@dnd-kit/sortable";
import { CSS } from "@dnd-kit/utilities";
import { eventTypes, operators, type EventType, type RuleAttribute } from "@/lib/segments/definition";
import { Button, Input, Select, cx } from "@/components/ui";
import { eventTypeLabels, operatorLabels } from "../format";
import { ruleFromPalette, type RuleDraft } from "./model";

const DROPZONE = "rules-dropzone";

interface PaletteBlock {
  id: string;
  eventType: EventType;
  attribute: RuleAttribute;
  title: string;
  hint: string;
}

const palette: PaletteBlock[] = [
  ...eventTypes.map((t) => ({ id: `palette:${t}:count`, eventType: t, attribute: "count" as const, title: eventTypeLabels[t], hint: "how many times" })),
  { id: "palette:orders:sum", eventType: "orders", attribute: "sum", title: "Order value", hint: "sum of a number" },
];
const blockOf = (id: string) => palette.find((p) => p.id === id);

/**
 * A palette block is over the rules only when it actually overlaps them (a block picked up and
 * dropped in place adds nothing); rules reorder by the closest centre, as sortable lists do.
 */
const collision: CollisionDetection = (args) =>
  String(args.active.id).startsWith("palette:") ? rectIntersection(args) : closestCenter(args);

const ARROWS = new Set(["ArrowRight", "ArrowLeft", "ArrowDown", "ArrowUp"]);

/** By keyboard, a palette block moves onto the rules with one arrow key; rules move between neighbours. */
const keyboardCoordinates: KeyboardCoordinateGetter = (event, args) => {
  const { active, droppableRects } = args.context;
  if (active && String(active.id).startsWith("palette:") && ARROWS.has(event.code)) {
    event.preventDefault();
    const zone = droppableRects.get(DROPZONE);
    return zone ? { x: zone.left + 16, y: zone.top + 16 } : undefined;
  }
  return sortableKeyboardCoordinates(event, args);
};

export interface RuleEditorProps {
  rules: RuleDraft[];
  onChange(rules: RuleDraft[]): void;
  /** Messages by path: `rules[1].windowMinutes`, and `rules` for the list. */
  errors: Record<string, string>;
  /** Called with a path when the user edits that field (validation shows from then on). */
  onEdit(path: string): void;
  disabled?: boolean;
}

export function RuleEditor({ rules, onChange, errors, onEdit, disabled }: RuleEditorProps) {
  const [dragging, setDragging] = useState<string | null>(null);
  const dndId = useId();
  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 4 } }),
    useSensor(KeyboardSensor, { coordinateGetter: keyboardCoordinates }),
  );

  const insert = (block: PaletteBlock, index = rules.length) => {
    const next = [...rules];
    next.splice(index, 0, ruleFromPalette(block.eventType, block.attribute));
    onChange(next);
    onEdit("rules");
  };

  const positionOf = (id: string | number) => rules.findIndex((r) => r.key === id) + 1;
  const nameOf = (id: string | number) => {
    const block = blockOf(String(id));
    return block ? `${block.title} block` : `rule ${positionOf(id)}`;
  };
  const where = (id: string | number | undefined) =>
    id === undefined ? "nowhere" : id === DROPZONE ? "the end of the rules" : `the position of rule ${positionOf(id)}`;
  const announcements: Announcements = {
    onDragStart: ({ active }) => `Picked up ${nameOf(active.id)}. Use the arrow keys to move, Space to drop, Escape to cancel.`,
    onDragOver: ({ active, over }) => `${nameOf(active.id)} is over ${where(over?.id)}.`,
    onDragEnd: ({ active, over }) => (over ? `Dropped ${nameOf(active.id)} at ${where(over.id)}.` : `${nameOf(active.id)} was not dropped.`),
    onDragCancel: ({ active }) => `Cancelled. ${nameOf(active.id)} was not moved.`,
  };

  const onDragStart = (e: DragStartEvent) => setDragging(String(e.active.id));
  const onDragEnd = ({ active, over }: DragEndEvent) => {
    setDragging(null);
    if (!over) return;
    const block = blockOf(String(active.id));
    if (block) {
      const at = rules.findIndex((r) => r.key === over.id);
      insert(block, at === -1 ? rules.length : at);
      return;
    }
    const from = rules.findIndex((r) => r.key === active.id);
    const to = rules.findIndex((r) => r.key === over.id);
    if (from !== -1 && to !== -1 && from !== to) {
      onChange(arrayMove(rules, from, to));
      onEdit("rules");
    }
  };

  const activeBlock = dragging ? blockOf(dragging) : undefined;

  return (
    <DndContext
      id={dndId}
      sensors={sensors}
      collisionDetection={collision}
      onDragStart={onDragStart}
      onDragEnd={onDragEnd}
      onDragCancel={() => setDragging(null)}
      accessibility={{
        announcements,
        screenReaderInstructions: {
          draggable: "To pick up a rule block, press Space or Enter. Use the arrow keys to move it into the rules, Space or Enter to drop, Escape to cancel.",
        },
      }}
    >
      <div className="grid gap-4 lg:grid-cols-[14rem_minmax(0,1fr)]">
        <section aria-labelledby="palette-title" className="rounded-lg border border-slate-200 bg-slate-50 p-3">
          <h3 id="palette-title" className="text-sm font-semibold text-slate-900">
            Rule blocks
          </h3>
          <p className="mb-3 mt-0.5 text-xs text-slate-600">Drag a block into the rules, or use Add.</p>
          <ul className="grid grid-cols-2 gap-2 sm:grid-cols-3 lg:grid-cols-1">
            {palette.map((b) => (
              <li key={b.id} className="flex items-stretch gap-1">
                <PaletteItem block={b} disabled={disabled} />
                <Button variant="secondary" size="sm" aria-label={`Add ${b.title} rule`} disabled={disabled} onClick={() => insert(b)}>
                  Add
                </Button>
              </li>
            ))}
          </ul>
        </section>

        <RulesDropzone empty={rules.length === 0} error={errors.rules} active={Boolean(activeBlock)} disabled={dragging !== null && !activeBlock}>
          <SortableContext items={rules.map((r) => r.key)} strategy={verticalListSortingStrategy}>
            <ol className="space-y-3">
              {rules.map((r, i) => (
                <RuleCard
                  key={r.key}
                  rule={r}
                  index={i}
                  count={rules.length}
                  errors={errors}
                  disabled={disabled}
                  onChange={(next, field) => {
                    onChange(rules.map((x) => (x.key === r.key ? next : x)));
                    onEdit(`rules[${i}].${field}`);
                  }}
                  onMove={(to) => {
                    onChange(arrayMove(rules, i, to));
                    onEdit("rules");
                  }}
                  onRemove={() => {
                    onChange(rules.filter((x) => x.key !== r.key));
                    onEdit("rules");
                  }}
                />
              ))}
            </ol>
          </SortableContext>
          <div className="mt-3">
            <Button variant="secondary" size="sm" disabled={disabled} onClick={() => insert(palette[0]!)}>
              + Add rule
            </Button>
          </div>
        </RulesDropzone>
      </div>
      <DragOverlay dropAnimation={null}>
        {activeBlock ? (
          <div className="rounded-md border border-indigo-300 bg-white px-3 py-2 text-sm font-medium text-indigo-800 shadow-lg">{activeBlock.title}</div>
        ) : null}
      </DragOverlay>
    </DndContext>
  );
}

function PaletteItem({ block, disabled }: { block: PaletteBlock; disabled?: boolean }) {
  const { attributes, listeners, setNodeRef, isDragging } = useDraggable({ id: block.id, disabled });
  return (
    <div
      ref={setNodeRef}
      {...attributes}
      {...listeners}
      aria-label={`${block.title} rule block (${block.hint})`}
      className={cx(
        "min-w-0 flex-1 cursor-grab touch-none select-none rounded-md border border-slate-300 bg-white px-2.5 py-1.5 text-sm shadow-sm",
        "hover:border-indigo-400 focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-indigo-600",
        isDragging && "opacity-40",
        disabled && "cursor-not-allowed opacity-60",
      )}
    >
      <span className="block truncate font-medium text-slate-900">{block.title}</span>
      <span className="block truncate text-xs text-slate-600">{block.hint}</span>
    </div>
  );
}

/**
 * Where palette blocks drop. While a rule itself is dragged the zone is disabled, so the
 * keyboard moves the rule between its neighbours instead of onto the zone around them.
 */
function RulesDropzone({ children, empty, error, active, disabled }: { children: React.ReactNode; empty: boolean; error?: string; active: boolean; disabled: boolean }) {
  const { setNodeRef, isOver } = useDroppable({ id: DROPZONE, disabled });
  return (
    <section
      ref={setNodeRef}
      aria-labelledby="rules-title"
      aria-describedby={error ? "rules-error" : undefined}
      className={cx(
        "min-h-40 rounded-lg border-2 border-dashed p-3 transition-colors",
        isOver ? "border-indigo-500 bg-indigo-50/60" : active ? "border-indigo-300" : error ? "border-red-300" : "border-slate-200",
      )}
    >
      <h3 id="rules-title" className="text-sm font-semibold text-slate-900">
        Rules <span className="font-normal text-slate-600">— a user is a member while all of them hold</span>
      </h3>
      {empty ? <p className="my-6 text-center text-sm text-slate-600">Drop a rule block here, or add one.</p> : null}
      <div className="mt-3">{children}</div>
      {error ? (
        <p id="rules-error" role="alert" className="mt-2 text-xs font-medium text-red-700">
          {error}
        </p>
      ) : null}
    </section>
  );
}

/** The message for one field; window limits are in minutes on the wire, so say what they mean. */
const fieldError = (errors: Record<string, string>, i: number, f: string) => {
  const m = errors[`rules[${i}].${f}`];
  if (m && f === "windowMinutes" && /at most 1440$/.test(m)) return `${m} minutes (24 hours)`;
  if (m && f === "windowMinutes" && /at least 1$/.test(m)) return `${m} minute`;
  return m;
};

function RuleCard({
  rule,
  index,
  count,
  errors,
  disabled,
  onChange,
  onMove,
  onRemove,
}: {
  rule: RuleDraft;
  index: number;
  count: number;
  errors: Record<string, string>;
  disabled?: boolean;
  onChange(next: RuleDraft, field: string): void;
  onMove(to: number): void;
  onRemove(): void;
}) {
  const { attributes, listeners, setNodeRef, setActivatorNodeRef, transform, transition, isDragging } = useSortable({ id: rule.key, disabled });
  const n = index + 1;
  const id = (f: string) => `rule-${rule.key}-${f}`;
  const err = (f: string) => fieldError(errors, index, f);
  const problems = ["eventType", "attribute", "field", "operator", "value", "windowMinutes"]
    .map((f) => [f, err(f)] as const)
    .filter(([, m]) => m);
  const set = (patch: Partial<RuleDraft>, field: string) => onChange({ ...rule, ...patch }, field);
  const invalid = (f: string) => (err(f) ? true : undefined);
  const describedBy = (f: string) => (err(f) ? `${id(f)}-error` : undefined);

  return (
    <li
      ref={setNodeRef}
      style={{ transform: CSS.Transform.toString(transform), transition }}
      className={cx("rounded-md border bg-white shadow-sm", isDragging ? "relative z-10 border-indigo-400 shadow-lg" : problems.length ? "border-red-300" : "border-slate-200")}
    >
      <fieldset className="min-w-0">
        <legend className="sr-only">Rule {n}</legend>
        <div className="flex items-center gap-2 border-b border-slate-100 px-3 py-2">
          <button
            type="button"
            ref={setActivatorNodeRef}
            {...attributes}
            {...listeners}
            aria-label={`Move rule ${n}`}
            className="cursor-grab touch-none rounded p-1 text-slate-500 hover:bg-slate-100 hover:text-slate-800 focus-visible:outline-2 focus-visible:outline-indigo-600"
          >
            <svg aria-hidden width="14" height="14" viewBox="0 0 14 14" className="fill-current">
              {[3, 7, 11].flatMap((y) => [4, 10].map((x) => <circle key={`${x}-${y}`} cx={x} cy={y} r={1.3} />))}
            </svg>
          </button>
          <span aria-hidden className="text-sm font-semibold text-slate-900">
            Rule {n}
          </span>
          {index > 0 ? <span className="rounded bg-slate-100 px-1.5 text-[11px] font-semibold text-slate-600">AND</span> : null}
          <span className="ml-auto flex items-center gap-1">
            <Button variant="ghost" size="sm" aria-label={`Move rule ${n} up`} disabled={disabled || index === 0} onClick={() => onMove(index - 1)}>
              ↑
            </Button>
            <Button variant="ghost" size="sm" aria-label={`Move rule ${n} down`} disabled={disabled || index === count - 1} onClick={() => onMove(index + 1)}>
              ↓
            </Button>
            <Button variant="ghost" size="sm" aria-label={`Remove rule ${n}`} disabled={disabled} onClick={onRemove}>
              Remove
            </Button>
          </span>
        </div>
        <div className="grid grid-cols-2 gap-3 px-3 py-3 sm:grid-cols-3">
          <Labeled label="Event" htmlFor={id("eventType")}>
            <Select id={id("eventType")} aria-label={`Rule ${n} event`} value={rule.eventType} disabled={disabled} aria-invalid={invalid("eventType")} aria-describedby={describedBy("eventType")} onChange={(e) => set({ eventType: e.target.value as EventType }, "eventType")}>
              {eventTypes.map((t) => (
                <option key={t} value={t}>
                  {eventTypeLabels[t]}
                </option>
              ))}
            </Select>
          </Labeled>
          <Labeled label="Measure" htmlFor={id("attribute")}>
            <Select
              id={id("attribute")}
              aria-label={`Rule ${n} measure`}
              value={rule.attribute}
              disabled={disabled}
              onChange={(e) => {
                const attribute = e.target.value as RuleAttribute;
                set({ attribute, field: attribute === "sum" ? rule.field || "value" : "" }, "attribute");
              }}
            >
              <option value="count">Count of events</option>
              <option value="sum">Sum of a field</option>
            </Select>
          </Labeled>
          {rule.attribute === "sum" ? (
            <Labeled label="Field" htmlFor={id("field")} error={err("field")} errorId={`${id("field")}-error`}>
              <Input id={id("field")} aria-label={`Rule ${n} field`} value={rule.field} placeholder="value" disabled={disabled} aria-invalid={invalid("field")} aria-describedby={describedBy("field")} onChange={(e) => set({ field: e.target.value }, "field")} />
            </Labeled>
          ) : (
            <p className="hidden self-end pb-2 text-xs text-slate-600 sm:block">Counts every event of this type in the window.</p>
          )}
          <Labeled label="Operator" htmlFor={id("operator")}>
            <Select id={id("operator")} aria-label={`Rule ${n} operator`} value={rule.operator} disabled={disabled} onChange={(e) => set({ operator: e.target.value as RuleDraft["operator"] }, "operator")}>
              {operators.map((o) => (
                <option key={o} value={o}>
                  {operatorLabels[o].symbol} {operatorLabels[o].words}
                </option>
              ))}
            </Select>
          </Labeled>
          <Labeled label="Value" htmlFor={id("value")} error={err("value")} errorId={`${id("value")}-error`}>
            <Input id={id("value")} aria-label={`Rule ${n} value`} inputMode="decimal" value={rule.value} disabled={disabled} aria-invalid={invalid("value")} aria-describedby={describedBy("value")} onChange={(e) => set({ value: e.target.value }, "value")} />
          </Labeled>
          <Labeled label="Window" htmlFor={id("windowMinutes")} error={err("windowMinutes")} errorId={`${id("windowMinutes")}-error`}>
            <div className="flex gap-1">
              <div className="min-w-0 flex-1">
                <Input id={id("windowMinutes")} aria-label={`Rule ${n} window length`} inputMode="numeric" value={rule.windowValue} disabled={disabled} aria-invalid={invalid("windowMinutes")} aria-describedby={describedBy("windowMinutes")} onChange={(e) => set({ windowValue: e.target.value }, "windowMinutes")} />
              </div>
              <div className="w-28 flex-none">
                <Select aria-label={`Rule ${n} window unit`} value={rule.windowUnit} disabled={disabled} onChange={(e) => set({ windowUnit: e.target.value as RuleDraft["windowUnit"] }, "windowMinutes")}>
                <option value="minutes">min</option>
                <option value="hours">hours</option>
              </Select>
              </div>
            </div>
          </Labeled>
        </div>
        {err("eventType") || err("attribute") || err("operator") ? (
          <p role="alert" className="px-3 pb-2 text-xs font-medium text-red-700">
            {err("eventType") ?? err("attribute") ?? err("operator")}
          </p>
        ) : null}
      </fieldset>
    </li>
  );
}

function Labeled({ label, htmlFor, error, errorId, children }: { label: string; htmlFor: string; error?: string; errorId?: string; children: React.ReactNode }) {
  return (
    <div className="min-w-0">
      <label htmlFor={htmlFor} className="mb-1 block text-xs font-medium text-slate-700">
        {label}
      </label>
      {children}
      {error ? (
        <p id={errorId} role="alert" className="mt-1 text-xs font-medium text-red-700">
          {error}
        </p>
      ) : null}
    </div>
  );
}
