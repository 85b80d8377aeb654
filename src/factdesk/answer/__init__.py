"""Questions out: the road a question takes to its answer, one module per stage, in order.

    question.py      the question cleaned (control characters, spaces, length)
    conversation.py  a follow-up read in its conversation (an LLM condenses it, when there is one)
    inquiry.py       the Inquiry: what goes forward from stage to stage
 1. lookup.py        retrieve: the question embedded, the passages found
 2. ranking.py       rank sentences: the pre-rank of every sentence of those passages
                     (answer_types.py: the kind of thing asked for)
 3. reading.py       read: the reader's spans in the best passages (reader.py, the model),
                     or, without it, the best sentences embedded alone
 4. decision.py      decide: answer or decline, and how confident (calibration.py)
 5. composition.py   compose: the Answer, quoted from the articles, or the LLM's answer (llm.py)
                     when it passes the citation check (grounding.py), else the quoted one
    answers.py       the Answer, its citations; Answerer, what every front end asks
    schema.py        the Answer as JSON

pipeline.py runs the stages in this order over one index; service.py loads what it needs.
"""
