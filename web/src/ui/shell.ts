import { h } from '../dom.js';
import type { Session } from '../session.js';

export type TabName = 'alerts' | 'drones' | 'sensors' | 'report';
export type Indicator = 'connecting' | 'live' | 'down' | 'polling';

export interface Shell {
  mapEl: HTMLElement;
  /** panels by tab; only the tabs the role may use exist */
  panels: Map<TabName, HTMLElement>;
  showTab(tab: TabName): void;
  onTab(fn: (tab: TabName) => void): void;
  badge(tab: TabName, text: string, flash?: boolean): void;
  /** the detail area under the tabs (alert, drone or sensor); null closes it */
  detail(content: HTMLElement | null, onClose?: () => void): void;
  indicator(which: 'positions' | 'alerts', state: Indicator, title?: string): void;
  counts: HTMLElement;
  soundButton: HTMLButtonElement;
  overlay: HTMLElement;
}

const TAB_TITLES: Record<TabName, string> = { alerts: 'Alerts', drones: 'Drones', sensors: 'Sensors', report: 'Report' };

/** The page: a header (connections, who is signed in, sound, sign out), the map, the side panel. */
export function buildShell(s: Session, signOut: () => void): Shell {
  const tabs: TabName[] = s.officer ? ['alerts', 'drones', 'sensors', 'report'] : ['drones', 'sensors'];
  const buttons = new Map<TabName, HTMLButtonElement>();
  const panels = new Map<TabName, HTMLElement>();
  const listeners: Array<(t: TabName) => void> = [];
  const nav = h('nav', { class: 'gp-tabs', role: 'tablist' });
  const side = h('aside', { class: 'gp-side' }, nav);
  for (const t of tabs) {
    const b = h('button', { type: 'button', role: 'tab', 'data-tab': t }, TAB_TITLES[t], h('span', { class: 'gp-badge' }));
    b.addEventListener('click', () => showTab(t));
    buttons.set(t, b);
    nav.append(b);
    const p = h('section', { class: 'gp-panel', 'data-panel': t, role: 'tabpanel', hidden: true });
    panels.set(t, p);
    side.append(p);
  }
  const detailBox = h('section', { class: 'gp-detail', hidden: true });
  side.append(detailBox);
  const showTab = (t: TabName) => {
    for (const [name, b] of buttons) b.setAttribute('aria-selected', String(name === t));
    for (const [name, p] of panels) p.hidden = name !== t;
    for (const fn of listeners) fn(t);
  };

  const dots = {
    positions: h('span', { class: 'gp-dot', 'data-state': 'connecting' }),
    alerts: h('span', { class: 'gp-dot', 'data-state': 'connecting' }),
  };
  const counts = h('span', { class: 'gp-counts' });
  const soundButton = h('button', { type: 'button', class: 'gp-sound', 'aria-pressed': 'false' }, 'Sound off');
  const out = h('button', { type: 'button' }, 'Sign out');
  out.addEventListener('click', signOut);
  const mapEl = h('div', { class: 'gp-map', id: 'map' });
  const overlay = h('div', { class: 'gp-overlay' });
  document.body.replaceChildren(h('div', { class: 'gp-app' },
    h('header', { class: 'gp-top' },
      h('strong', { class: 'gp-brand' }, 'GridPatrol'),
      h('span', { class: 'gp-conn' }, dots.positions, 'positions'),
      s.officer ? h('span', { class: 'gp-conn' }, dots.alerts, 'alerts') : null,
      counts,
      h('span', { class: 'gp-spacer' }),
      s.officer ? soundButton : null,
      h('span', { class: 'gp-who', 'data-role': s.role }, `${s.info.you.name} · ${s.role}${s.info.you.grids ? ` · ${s.info.you.grids.join(', ')}` : ''}`),
      out),
    h('main', { class: 'gp-main' }, h('div', { class: 'gp-map-wrap' }, mapEl, overlay), side)));
  showTab(tabs[0]!);

  let closeDetail: (() => void) | undefined;
  const detail = (content: HTMLElement | null, onClose?: () => void): void => {
    if (closeDetail && content !== detailBox.lastElementChild) closeDetail();
    closeDetail = onClose;
    if (!content) {
      detailBox.hidden = true;
      detailBox.replaceChildren();
      return;
    }
    const close = h('button', { type: 'button', class: 'gp-close', 'aria-label': 'close' }, '×');
    close.addEventListener('click', () => detail(null));
    detailBox.replaceChildren(close, content);
    detailBox.hidden = false;
  };
  return {
    mapEl, panels, showTab, counts, soundButton, overlay,
    onTab: (fn) => listeners.push(fn),
    badge(tab, text, flash) {
      const b = buttons.get(tab)?.querySelector('.gp-badge');
      if (!b) return;
      b.textContent = text;
      if (flash) {
        b.classList.remove('flash');
        void (b as HTMLElement).offsetWidth;
        b.classList.add('flash');
      }
    },
    detail,
    indicator(which, state, title) {
      dots[which].setAttribute('data-state', state);
      dots[which].title = title ?? state;
    },
  };
}
