/** A labelled progress bar with ARIA progress semantics. */
export function ProgressBar({
  value,
  label,
  tone = 'active',
  size = 'normal',
}: {
  value: number;
  label: string;
  tone?: string;
  size?: 'normal' | 'large';
}) {
  const v = Math.max(0, Math.min(100, Number.isFinite(value) ? value : 0));
  return (
    <div
      className={`progress progress--${size} tone-${tone}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(v)}
    >
      <div className="progress__fill" style={{ width: `${v}%` }} />
    </div>
  );
}
