import { createRoot } from 'react-dom/client';
import { markPhase } from '../core/io/marks.ts';
import { engineWarmUp } from '../state/engine.ts';
import { App } from './App.tsx';
import './styles.css';

markPhase('moe:main');
// The engine worker starts before the first render, not at the first "Chat with": its bundle
// loads, its kernels compile and the zoo model chatted with last loads on another core while
// this thread renders the Library (measured by bench/ttft.ts: ~100 ms earlier than after it).
engineWarmUp();
createRoot(document.getElementById('root')!).render(<App />);
