/**
 * Browse: a bucket's folders and objects in a virtualized list (smooth at 100,000 objects), with
 * multi-select by checkbox, click, shift-click and ctrl/cmd-click, and the Start transfer bar.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import {
  memo,
  useCallback,
  useEffect,
  useId,
  useMemo,
  useRef,
  useState,
  type KeyboardEvent,
  type MouseEvent,
} from 'react';
import { useTranslation } from 'react-i18next';
import { MAX_CONCURRENT_LIMIT } from '../../../shared/contract';
import { BUCKET_NAME, MAX_TARGET_LENGTH, targetProblemKind } from '../../../shared/object-paths';
import {
  DESTINATIONS,
  type DestinationKind,
  declarationOf,
  defaultTargetOf,
  destinationTargetProblem,
} from '../../../shared/destinations';
import { destinationReady } from '../settings-form';
import { useApp, useOffline } from '../stores/app';
import { baseName, formatBytes, formatDate } from '../format';
import { buildRows, useBrowse, type Row } from '../stores/browse';
import { useSettings } from '../stores/settings';
import { startSelection } from '../transfer-actions';
import { FiltersToggle, SelectionFilters, useFiltersInvalid } from '../components/SelectionFilters';
import { SelectionPreview } from '../components/SelectionPreview';

const ROW_HEIGHT = 34;

function Breadcrumbs() {
  const { t } = useTranslation();
  const bucket = useBrowse((s) => s.bucket);
  const prefix = useBrowse((s) => s.prefix);
  const openPrefix = useBrowse((s) => s.openPrefix);
  const parts = prefix.split('/').filter(Boolean);
  return (
    <nav aria-label={t('browse.folderPath')} className="crumbs">
      <ol>
        <li>
          <button
            type="button"
            className="crumb"
            aria-current={parts.length === 0 ? 'location' : undefined}
            onClick={() => openPrefix('')}
            disabled={!bucket}
          >
            {bucket || t('browse.noBucket')}
          </button>
        </li>
        {parts.map((part, i) => {
          const p = parts.slice(0, i + 1).join('/') + '/';
          return (
            <li key={p}>
              <span className="crumb-sep" aria-hidden="true">
                ›
              </span>
              <button
                type="button"
                className="crumb"
                aria-current={i === parts.length - 1 ? 'location' : undefined}
                onClick={() => openPrefix(p)}
              >
                {part}
              </button>
            </li>
          );
        })}
      </ol>
    </nav>
  );
}

const FolderIcon = () => (
  <svg className="row-icon row-icon--folder" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
    <path
      d="M3 6.5A1.5 1.5 0 0 1 4.5 5H9l2 2h8.5A1.5 1.5 0 0 1 21 8.5v9a1.5 1.5 0 0 1-1.5 1.5h-15A1.5 1.5 0 0 1 3 17.5z"
      fill="currentColor"
    />
  </svg>
);
const FileIcon = () => (
  <svg className="row-icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
    <path
      d="M6 3h8l4 4v14H6zM14 3v4h4"
      fill="none"
      stroke="currentColor"
      strokeWidth="1.5"
      strokeLinejoin="round"
    />
  </svg>
);

interface RowProps {
  row: Row;
  index: number;
  start: number;
  active: boolean;
  rowId: string;
  onRowClick(e: MouseEvent, row: Row, index: number): void;
  onCheck(e: MouseEvent, row: Row, index: number): void;
  onOpen(row: Row): void;
}

const ObjectRow = memo(function ObjectRow({
  row,
  index,
  start,
  active,
  rowId,
  onRowClick,
  onCheck,
  onOpen,
}: RowProps) {
  const { t } = useTranslation();
  const selected = useBrowse((s) => s.selected.has(row.key));
  const prefix = useBrowse((s) => s.prefix);
  const name = row.folder ? baseName(row.key) : row.key.slice(prefix.length);
  return (
    <div
      id={rowId}
      role="row"
      aria-rowindex={index + 2}
      aria-selected={selected}
      className={`brow${selected ? ' is-selected' : ''}${active ? ' is-active' : ''}`}
      style={{ transform: `translateY(${start}px)` }}
      onClick={(e) => onRowClick(e, row, index)}
      onDoubleClick={() => row.folder && onOpen(row)}
    >
      <div role="gridcell" className="bcell bcell--check">
        <input
          type="checkbox"
          tabIndex={-1}
          aria-label={row.key}
          checked={selected}
          onClick={(e) => {
            e.stopPropagation();
            onCheck(e, row, index);
          }}
          onChange={() => undefined}
        />
      </div>
      <div role="gridcell" className="bcell bcell--name">
        {row.folder ? <FolderIcon /> : <FileIcon />}
        {row.folder ? (
          <button
            type="button"
            tabIndex={-1}
            className="linklike"
            aria-label={t('browse.openFolder', { name })}
            onClick={(e) => {
              e.stopPropagation();
              onOpen(row);
            }}
          >
            {name}
          </button>
        ) : (
          <span className="truncate" title={row.key}>
            {name}
          </span>
        )}
      </div>
      <div role="gridcell" className="bcell bcell--size">
        {row.folder ? t('browse.folder') : formatBytes(row.size)}
      </div>
      <div role="gridcell" className="bcell bcell--date">
        {row.folder ? '' : formatDate(row.lastModified)}
      </div>
    </div>
  );
});

function SelectAll({ rows }: { rows: Row[] }) {
  const { t } = useTranslation();
  const selected = useBrowse((s) => s.selected);
  const setAll = useBrowse((s) => s.setAll);
  const ref = useRef<HTMLInputElement>(null);
  let count = 0;
  for (const r of rows) if (selected.has(r.key)) count++;
  const all = rows.length > 0 && count === rows.length;
  useEffect(() => {
    if (ref.current) ref.current.indeterminate = count > 0 && !all;
  }, [count, all]);
  return (
    <input
      ref={ref}
      type="checkbox"
      aria-label={t('browse.selectAll')}
      checked={all}
      disabled={rows.length === 0}
      onChange={() => setAll(rows, !all)}
    />
  );
}

function ObjectList({ rows }: { rows: Row[] }) {
  const { t } = useTranslation();
  const openPrefix = useBrowse((s) => s.openPrefix);
  const prefix = useBrowse((s) => s.prefix);
  const loading = useBrowse((s) => s.loading);
  const error = useBrowse((s) => s.error);
  const search = useBrowse((s) => s.search);
  const bucket = useBrowse((s) => s.bucket);
  const listProblem = useBrowse((s) => s.problem);
  const scrollRef = useRef<HTMLDivElement>(null);
  const [active, setActive] = useState(0);
  const baseId = useId();

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });

  useEffect(() => {
    setActive(0);
    scrollRef.current?.scrollTo({ top: 0 });
  }, [prefix, search, bucket]);

  const open = useCallback((row: Row) => row.folder && openPrefix(row.key), [openPrefix]);

  const onRowClick = useCallback(
    (e: MouseEvent, row: Row, index: number) => {
      const st = useBrowse.getState();
      if (e.shiftKey) st.selectRange(rows, row.key, e.ctrlKey || e.metaKey);
      else if (e.ctrlKey || e.metaKey) st.toggle(row);
      else st.selectOnly(row);
      setActive(index);
    },
    [rows],
  );
  const onCheck = useCallback(
    (e: MouseEvent, row: Row, index: number) => {
      const st = useBrowse.getState();
      if (e.shiftKey) st.selectRange(rows, row.key, true);
      else st.toggle(row);
      setActive(index);
    },
    [rows],
  );

  const move = (to: number, extend: boolean) => {
    if (rows.length === 0) return;
    const i = Math.max(0, Math.min(rows.length - 1, to));
    const from = rows[Math.min(active, rows.length - 1)]?.key;
    setActive(i);
    virtualizer.scrollToIndex(i, { align: 'auto' });
    if (extend) useBrowse.getState().selectRange(rows, rows[i]!.key, false, from);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    const row = rows[active];
    const page = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? 340) / ROW_HEIGHT) - 1);
    switch (e.key) {
      case 'ArrowDown':
        move(active + 1, e.shiftKey);
        break;
      case 'ArrowUp':
        move(active - 1, e.shiftKey);
        break;
      case 'PageDown':
        move(active + page, e.shiftKey);
        break;
      case 'PageUp':
        move(active - page, e.shiftKey);
        break;
      case 'Home':
        move(0, e.shiftKey);
        break;
      case 'End':
        move(rows.length - 1, e.shiftKey);
        break;
      case ' ':
        if (row) useBrowse.getState().toggle(row);
        break;
      case 'Enter':
        if (row?.folder) open(row);
        else if (row) useBrowse.getState().toggle(row);
        break;
      case 'Backspace': {
        if (!prefix) return;
        const parts = prefix.split('/').filter(Boolean);
        openPrefix(parts.length > 1 ? parts.slice(0, -1).join('/') + '/' : '');
        break;
      }
      case 'a':
      case 'A':
        if (!(e.ctrlKey || e.metaKey)) return;
        useBrowse.getState().setAll(rows, true);
        break;
      case 'Escape':
        useBrowse.getState().clearSelection();
        break;
      default:
        return;
    }
    e.preventDefault();
  };

  const activeRow = rows[active];
  const items = virtualizer.getVirtualItems();
  return (
    <div
      className="grid"
      role="grid"
      aria-label={t('browse.contents')}
      aria-multiselectable="true"
      aria-rowcount={rows.length + 1}
      aria-busy={loading}
      tabIndex={0}
      aria-activedescendant={activeRow ? `${baseId}-r${active}` : undefined}
      onKeyDown={onKeyDown}
    >
      <div role="rowgroup" className="grid__head">
        <div role="row" aria-rowindex={1} className="brow brow--head">
          <div role="columnheader" className="bcell bcell--check">
            <SelectAll rows={rows} />
          </div>
          <div role="columnheader" className="bcell bcell--name">
            {t('browse.name')}
          </div>
          <div role="columnheader" className="bcell bcell--size">
            {t('browse.size')}
          </div>
          <div role="columnheader" className="bcell bcell--date">
            {t('browse.modified')}
          </div>
        </div>
      </div>
      <div ref={scrollRef} className="grid__scroll" role="rowgroup">
        {rows.length === 0 && !loading && (
          <div className="empty">
            {error ? (
              <span role="alert">
                {listProblem
                  ? t(`s3Problem.${listProblem}`, { what: bucket })
                  : t('browse.listError', { error })}
              </span>
            ) : !bucket ? (
              t('browse.chooseBucket')
            ) : search ? (
              t('browse.noMatch')
            ) : (
              t('browse.empty')
            )}
          </div>
        )}
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {items.map((v) => {
            const row = rows[v.index]!;
            return (
              <ObjectRow
                key={row.key}
                row={row}
                index={v.index}
                start={v.start}
                active={v.index === active}
                rowId={`${baseId}-r${v.index}`}
                onRowClick={onRowClick}
                onCheck={onCheck}
                onOpen={open}
              />
            );
          })}
        </div>
      </div>
    </div>
  );
}

function ListingStatus({ rows }: { rows: Row[] }) {
  const { t } = useTranslation();
  const loading = useBrowse((s) => s.loading);
  const folders = useBrowse((s) => s.folders.length);
  const objects = useBrowse((s) => s.objects.length);
  const search = useBrowse((s) => s.search);
  const reload = useBrowse((s) => s.reload);
  const error = useBrowse((s) => s.error);
  const total = folders + objects;
  return (
    <div className="listing-status" aria-live="polite">
      {loading ? (
        <span className="loading">
          <span className="spinner" aria-hidden="true" /> {t('browse.loadingSoFar', { count: total })}
        </span>
      ) : (
        <span>
          {search
            ? t('browse.matching', { shown: rows.length, count: total })
            : t('browse.listing', {
                folders: t('browse.folders', { count: folders }),
                objects: t('browse.objects', { count: objects }),
              })}
        </span>
      )}
      {error && rows.length > 0 && <span className="text-bad">{t('browse.stopped', { error })}</span>}
      <button
        type="button"
        className="button button--ghost button--small"
        onClick={reload}
        disabled={loading}
      >
        {t('browse.refresh')}
      </button>
    </div>
  );
}

function StartBar() {
  const { t } = useTranslation();
  const selected = useBrowse((s) => s.selected);
  const bucket = useBrowse((s) => s.bucket);
  const target = useBrowse((s) => s.target);
  const destination = useBrowse((s) => s.destination);
  const view = useSettings((s) => s.view);
  const concurrency = useBrowse((s) => s.concurrency);
  const force = useBrowse((s) => s.force);
  const smallFirst = useBrowse((s) => s.smallFirst);
  const limit = useSettings((s) => s.view?.transfers.max_concurrent_limit ?? MAX_CONCURRENT_LIMIT);
  const offline = useOffline();
  // Workers share a MongoDB store: the choice to hand the selection to them is offered there.
  const shared = useApp((s) => s.health?.store === 'mongodb');
  const [starting, setStarting] = useState(false);
  const { setTarget, setDestination, setConcurrency, setForce, setSmallFirst, clearSelection } =
    useBrowse.getState();
  const filtersInvalid = useFiltersInvalid();
  const filtersId = useId();

  let folders = 0;
  let objects = 0;
  let bytes = 0;
  for (const s of selected.values()) {
    if (s.folder) folders++;
    else {
      objects++;
      bytes += s.size ?? 0;
    }
  }
  // The host's own rules (object-paths.ts, destinations.ts), said here before Start rather than
  // refused after it.
  const problem = destination === 'mega' ? targetProblemKind(target.trim()) : null;
  const otherProblem =
    destination !== 'mega' && destinationTargetProblem(destination, target.trim()) !== null;
  const setUp = (kind: DestinationKind) => !view || destinationReady(view, kind);
  const problemId = useId();
  const summary =
    selected.size === 0
      ? t('startBar.nothing')
      : [
          objects ? t('startBar.objects', { count: objects, size: formatBytes(bytes) }) : '',
          folders ? t('startBar.folders', { count: folders }) : '',
        ]
          .filter(Boolean)
          .join(t('startBar.joiner'));

  const start = async (run: 'here' | 'queue' = 'here') => {
    setStarting(true);
    try {
      await startSelection(run);
    } finally {
      setStarting(false);
    }
  };
  const cannotStart =
    selected.size === 0 ||
    !bucket ||
    problem !== null ||
    otherProblem ||
    !setUp(destination) ||
    filtersInvalid ||
    starting ||
    offline;
  // A local folder is written by this machine: it is never handed to the workers.
  const canQueue = shared && !declarationOf(destination).machineBound;
  const destinationId = useId();

  return (
    <form
      className="startbar"
      aria-label={t('startBar.label')}
      onSubmit={(e) => {
        e.preventDefault();
        void start();
      }}
    >
      <div className="startbar__summary">
        <strong aria-live="polite">{summary}</strong>
        {selected.size > 0 && (
          <button type="button" className="button button--ghost button--small" onClick={clearSelection}>
            {t('startBar.clear')}
          </button>
        )}
        <SelectionPreview />
      </div>
      <FiltersToggle controls={filtersId} />
      <label className="field field--inline" htmlFor={destinationId}>
        <span>{t('startBar.destination')}</span>
        <select
          id={destinationId}
          value={destination}
          onChange={(e) => {
            const kind = e.target.value as DestinationKind;
            const fallback = view?.[kind].default_target ?? '';
            setDestination(kind, fallback || defaultTargetOf(kind));
          }}
        >
          {DESTINATIONS.map((d) => (
            <option key={d.kind} value={d.kind}>
              {setUp(d.kind)
                ? t(`destinations.${d.kind}`)
                : t('startBar.destinationNotSetUp', { name: t(`destinations.${d.kind}`) })}
            </option>
          ))}
        </select>
      </label>
      <label className="field field--inline">
        <span>{t(`startBar.targetFor.${destination}`)}</span>
        <input
          type="text"
          value={target}
          placeholder={declarationOf(destination).targetExample}
          onChange={(e) => setTarget(e.target.value)}
          aria-invalid={problem !== null || otherProblem}
          aria-describedby={problem || otherProblem || !setUp(destination) ? problemId : undefined}
          spellCheck={false}
          size={12}
        />
      </label>
      <label className="field field--inline">
        <span>{t('startBar.concurrent')}</span>
        <input
          type="number"
          min={1}
          max={limit}
          value={concurrency}
          onChange={(e) => setConcurrency(Math.max(1, Math.min(limit, Number(e.target.value) || 1)))}
          className="input--narrow"
        />
      </label>
      <label className="check">
        <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} />
        <span title={t('startBar.forceHint')}>{t('startBar.force')}</span>
      </label>
      <label className="check">
        <input type="checkbox" checked={smallFirst} onChange={(e) => setSmallFirst(e.target.checked)} />
        <span title={t('startBar.smallFirstHint')}>{t('startBar.smallFirst')}</span>
      </label>
      <button type="submit" className="button button--primary" disabled={cannotStart}>
        {starting ? t('startBar.starting') : t('startBar.start')}
      </button>
      {canQueue && (
        <button
          type="button"
          className="button"
          disabled={cannotStart}
          title={t('startBar.toWorkersHint')}
          onClick={() => void start('queue')}
        >
          {t('startBar.toWorkers')}
        </button>
      )}
      <SelectionFilters id={filtersId} />
      {problem && (
        <p id={problemId} className="startbar__problem text-bad" role="alert">
          {t(`startBar.targetProblem.${problem}`, { max: MAX_TARGET_LENGTH })}
        </p>
      )}
      {destination !== 'mega' && otherProblem && target.trim() !== '' && (
        <p id={problemId} className="startbar__problem text-bad" role="alert">
          {t(`startBar.destinationTargetProblem.${destination}`)}
        </p>
      )}
      {!setUp(destination) && (
        <p id={problemId} className="startbar__problem text-bad" role="alert">
          {t('startBar.destinationSetUp', { name: t(`destinations.${destination}`) })}
        </p>
      )}
    </form>
  );
}

const OTHER = '\u0000other';

/** A bucket opened by its name, for keys that may not list buckets (or a bucket not listed). */
function TypedBucket({ autoFocus, onOpen }: { autoFocus: boolean; onOpen(): void }) {
  const { t } = useTranslation();
  const [name, setName] = useState('');
  const [tried, setTried] = useState(false);
  const id = useId();
  const trimmed = name.trim();
  const invalid = tried && !BUCKET_NAME.test(trimmed);
  return (
    <form
      className="typed-bucket"
      aria-label={t('bucketPick.typeLabel')}
      onSubmit={(e) => {
        e.preventDefault();
        setTried(true);
        if (!BUCKET_NAME.test(trimmed)) return;
        useBrowse.getState().openTypedBucket(trimmed);
        onOpen();
      }}
    >
      <label className="field field--inline">
        <span>{t('bucketPick.typeLabel')}</span>
        <input
          type="text"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder={t('bucketPick.typePlaceholder')}
          spellCheck={false}
          autoCapitalize="off"
          autoFocus={autoFocus}
          aria-invalid={invalid || undefined}
          aria-describedby={invalid ? `${id}-error` : undefined}
        />
      </label>
      <button type="submit" className="button button--small">
        {t('bucketPick.open')}
      </button>
      {invalid && (
        <p id={`${id}-error`} className="field-error" role="alert">
          {t('bucketPick.invalid')}
        </p>
      )}
    </form>
  );
}

export function BrowseScreen() {
  const { t } = useTranslation();
  const buckets = useBrowse((s) => s.buckets);
  const bucketsLoaded = useBrowse((s) => s.bucketsLoaded);
  const bucketsError = useBrowse((s) => s.bucketsError);
  const bucketsProblem = useBrowse((s) => s.bucketsProblem);
  const [typing, setTyping] = useState(false);
  const bucket = useBrowse((s) => s.bucket);
  const prefix = useBrowse((s) => s.prefix);
  const folders = useBrowse((s) => s.folders);
  const objects = useBrowse((s) => s.objects);
  const search = useBrowse((s) => s.search);
  const { openBucket, setSearch, loadBuckets } = useBrowse.getState();
  const rows = useMemo(() => buildRows(prefix, folders, objects, search), [prefix, folders, objects, search]);

  return (
    <section className="screen screen--browse" aria-labelledby="browse-title">
      <header className="screen__head">
        <h1 id="browse-title">{t('browse.title')}</h1>
        <div className="toolbar">
          <label className="field field--inline">
            <span>{t('browse.bucket')}</span>
            <select
              value={typing ? OTHER : bucket}
              onChange={(e) => {
                if (e.target.value === OTHER) setTyping(true);
                else {
                  setTyping(false);
                  openBucket(e.target.value);
                }
              }}
              disabled={!bucketsLoaded}
            >
              {!bucket && !typing && (
                <option value="">{bucketsLoaded ? t('browse.noBuckets') : t('browse.loading')}</option>
              )}
              {buckets.map((b) => (
                <option key={b} value={b}>
                  {b}
                </option>
              ))}
              <option value={OTHER}>{t('bucketPick.other')}</option>
            </select>
          </label>
          <input
            type="search"
            className="search"
            placeholder={t('browse.filterPlaceholder')}
            aria-label={t('browse.searchLabel')}
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
        </div>
      </header>
      {bucketsError && (
        <div className="banner banner--error" role="alert">
          <span>
            {bucketsProblem === 'access_denied'
              ? t('s3Problem.access_denied_list')
              : bucketsProblem
                ? t(`s3Problem.${bucketsProblem}`, { what: '' })
                : t('browse.bucketsError', { error: bucketsError })}
          </span>
          <button type="button" className="button button--small" onClick={() => void loadBuckets()}>
            {t('browse.tryAgain')}
          </button>
        </div>
      )}
      {(typing || (bucketsLoaded && (bucketsError !== null || buckets.length === 0))) && (
        <TypedBucket autoFocus={typing} onOpen={() => setTyping(false)} />
      )}
      <Breadcrumbs />
      <ObjectList rows={rows} />
      <ListingStatus rows={rows} />
      <StartBar />
    </section>
  );
}
